#include "kagami/crawler/cron.h"

#include <sstream>
#include <vector>

namespace kagami::crawler {
namespace {

template <size_t N>
Status ParseField(const std::string& field, int lo, int hi, std::bitset<N>& out, bool& any,
                  const char* name) {
  any = field == "*";
  std::stringstream ss(field);
  std::string part;
  while (std::getline(ss, part, ',')) {
    int step = 1;
    size_t slash = part.find('/');
    if (slash != std::string::npos) {
      step = std::atoi(part.c_str() + slash + 1);
      if (step <= 0) return Status::InvalidArgument(std::string("cron: bad step in ") + name);
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part != "*") {
      size_t dash = part.find('-');
      char* end = nullptr;
      a = static_cast<int>(std::strtol(part.c_str(), &end, 10));
      if (end == part.c_str()) return Status::InvalidArgument(std::string("cron: bad ") + name);
      b = a;
      if (dash != std::string::npos)
        b = std::atoi(part.c_str() + dash + 1);
      else if (slash != std::string::npos)
        b = hi;
    }
    if (a < lo || b > hi || a > b)
      return Status::InvalidArgument(std::string("cron: ") + name + " out of range");
    for (int v = a; v <= b; v += step) out.set(static_cast<size_t>(v));
  }
  return Status::Ok();
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expression) {
  std::string expr(expression);
  if (expr == "@hourly")
    expr = "0 * * * *";
  else if (expr == "@daily" || expr == "@midnight")
    expr = "0 0 * * *";
  else if (expr == "@weekly")
    expr = "0 0 * * 0";
  else if (expr == "@monthly")
    expr = "0 0 1 * *";
  std::stringstream ss(expr);
  std::vector<std::string> f;
  std::string tok;
  while (ss >> tok) f.push_back(tok);
  if (f.size() != 5)
    return Status::InvalidArgument("cron: expected 5 fields (min hour dom month dow): '" +
                                   std::string(expression) + "'");
  CronSchedule c;
  bool dummy;
  KAGAMI_RETURN_IF_ERROR(ParseField(f[0], 0, 59, c.minutes_, dummy, "minute"));
  KAGAMI_RETURN_IF_ERROR(ParseField(f[1], 0, 23, c.hours_, dummy, "hour"));
  KAGAMI_RETURN_IF_ERROR(ParseField(f[2], 1, 31, c.days_, c.days_any_, "day of month"));
  KAGAMI_RETURN_IF_ERROR(ParseField(f[3], 1, 12, c.months_, dummy, "month"));
  KAGAMI_RETURN_IF_ERROR(ParseField(f[4], 0, 7, c.weekdays_, c.weekdays_any_, "day of week"));
  if (c.weekdays_[7]) c.weekdays_.set(0);
  return c;
}

std::time_t CronSchedule::Next(std::time_t after) const {
  std::time_t t = after - after % 60 + 60;
  // At most ~5 years of minutes; a schedule like "0 0 31 2 *" never matches.
  for (int i = 0; i < 5 * 366 * 24 * 60; ++i, t += 60) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (!months_[tm.tm_mon + 1]) {
      // Skip to the first minute of the next month.
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm) - 60;
      continue;
    }
    bool dom = days_[tm.tm_mday], dow = weekdays_[tm.tm_wday];
    bool day = (days_any_ || weekdays_any_) ? (dom && dow) : (dom || dow);
    if (!day) {
      tm.tm_mday += 1;
      tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm) - 60;
      continue;
    }
    if (!hours_[tm.tm_hour]) {
      tm.tm_hour += 1;
      tm.tm_min = tm.tm_sec = 0;
      t = timegm(&tm) - 60;
      continue;
    }
    if (minutes_[tm.tm_min]) return t;
  }
  return static_cast<std::time_t>(-1);
}

}  // namespace kagami::crawler
