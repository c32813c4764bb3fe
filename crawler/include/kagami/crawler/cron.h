#pragma once

#include <bitset>
#include <ctime>
#include <string>
#include <string_view>

#include "kagami/base/status.h"

namespace kagami::crawler {

// A standard 5-field cron expression (minute hour day-of-month month
// day-of-week), evaluated in UTC: numbers, '*', lists 'a,b', ranges 'a-b',
// steps '*/n' and 'a-b/n', day-of-week 0-7 (0 and 7 are Sunday), and the
// Vixie rule that when both day fields are restricted either may match.
// Also "@hourly", "@daily", "@weekly", "@monthly". Immutable; thread-safe.
class CronSchedule {
 public:
  static Result<CronSchedule> Parse(std::string_view expression);
  // The first matching minute strictly after `after` (UTC seconds).
  std::time_t Next(std::time_t after) const;

 private:
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;
  std::bitset<13> months_;
  std::bitset<8> weekdays_;
  bool days_any_ = true, weekdays_any_ = true;
};

}  // namespace kagami::crawler
