// The crawler's pure pieces: URL canonicalisation, robots.txt (RFC 9309),
// the address policy, HTML link extraction, content decoding caps, cron.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "kagami/crawler/address_policy.h"
#include "kagami/crawler/crawl_job.h"
#include "kagami/crawler/cron.h"
#include "kagami/crawler/html_extractor.h"
#include "kagami/crawler/http_client.h"
#include "kagami/crawler/json_path.h"
#include "kagami/crawler/robots.h"
#include "kagami/crawler/url.h"

namespace kagami::crawler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(UrlTest, CanonicalisesSchemeHostPortDotSegmentsAndFragment) {
  Result<Url> u = ParseUrl("HTTP://Reader.EXAMPLE:80/a/./b/../c?x=1#frag");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->canonical, "http://reader.example/a/c?x=1");
  EXPECT_EQ(u->authority(), "reader.example:80");
  EXPECT_EQ(u->path_query, "/a/c?x=1");
  EXPECT_EQ(ParseUrl("https://h.example")->canonical, "https://h.example/");
  EXPECT_EQ(ParseUrl("http://[::1]:8080/x")->authority(), "[::1]:8080");
}

TEST(UrlTest, ResolvesRelativeReferencesAgainstTheBase) {
  EXPECT_EQ(ParseUrl("../p2.jpg", "http://h.example/manga/c1/p1.html")->canonical,
            "http://h.example/manga/p2.jpg");
  EXPECT_EQ(ParseUrl("//img.example/x.jpg", "https://h.example/")->canonical,
            "https://img.example/x.jpg");
}

TEST(UrlTest, RefusesOtherSchemes) {
  EXPECT_FALSE(ParseUrl("ftp://h.example/x.cbz").ok());
  EXPECT_FALSE(ParseUrl("file:///etc/passwd").ok());
  EXPECT_FALSE(ParseUrl("gopher://h.example/").ok());
}

TEST(RobotsTest, LongestMatchWinsAndAllowWinsTies) {
  RobotsRules r = RobotsRules::Parse(
      "User-agent: *\nDisallow: /private/\nAllow: /private/public\nDisallow: /*.php$\n", "kagami");
  EXPECT_TRUE(r.Allowed("/"));
  EXPECT_FALSE(r.Allowed("/private/x"));
  EXPECT_TRUE(r.Allowed("/private/public/y"));
  EXPECT_FALSE(r.Allowed("/index.php"));
  EXPECT_TRUE(r.Allowed("/index.php?x=1"));
  EXPECT_TRUE(r.Allowed("/robots.txt"));
}

TEST(RobotsTest, SpecificGroupReplacesStarGroup) {
  RobotsRules r = RobotsRules::Parse(
      "User-agent: *\nDisallow: /\n\nUser-agent: Kagami\nUser-agent: other\nDisallow: /x\n"
      "Crawl-delay: 2\n",
      "kagami");
  EXPECT_TRUE(r.Allowed("/a"));
  EXPECT_FALSE(r.Allowed("/x/y"));
  EXPECT_DOUBLE_EQ(r.crawl_delay_s(), 2.0);
  EXPECT_FALSE(RobotsRules::Parse("User-agent: *\nDisallow: /\n", "kagami").Allowed("/a"));
  EXPECT_TRUE(RobotsRules::Parse("garbage\n\n", "kagami").Allowed("/a"));
  EXPECT_FALSE(RobotsRules::DisallowAll().Allowed("/a"));
}

TEST(AddressPolicyTest, RefusesSpecialRangesUnlessAllowed) {
  Result<AddressPolicy> p = AddressPolicy::Make({});
  ASSERT_TRUE(p.ok());
  EXPECT_THAT(p->CheckText("169.254.169.254"), HasSubstr("link-local"));
  EXPECT_THAT(p->CheckText("127.0.0.1"), HasSubstr("loopback"));
  EXPECT_THAT(p->CheckText("10.0.0.8"), HasSubstr("private"));
  EXPECT_THAT(p->CheckText("172.20.1.1"), HasSubstr("private"));
  EXPECT_THAT(p->CheckText("192.168.1.1"), HasSubstr("private"));
  EXPECT_THAT(p->CheckText("100.64.0.1"), HasSubstr("shared"));
  EXPECT_THAT(p->CheckText("0.0.0.0"), HasSubstr("unspecified"));
  EXPECT_THAT(p->CheckText("::1"), HasSubstr("loopback"));
  EXPECT_THAT(p->CheckText("fe80::1"), HasSubstr("link-local"));
  EXPECT_THAT(p->CheckText("fd00:ec2::254"), HasSubstr("unique local"));
  EXPECT_THAT(p->CheckText("::ffff:169.254.169.254"), HasSubstr("link-local"));
  EXPECT_THAT(p->CheckText("64:ff9b::a9fe:a9fe"), HasSubstr("link-local"));  // NAT64 metadata
  EXPECT_EQ(p->CheckText("93.184.216.34"), "");
  EXPECT_EQ(p->CheckText("2606:2800:220:1:248:1893:25c8:1946"), "");

  Result<AddressPolicy> allow = AddressPolicy::Make({"127.0.0.1", "10.1.0.0/16"});
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(allow->CheckText("127.0.0.1"), "");
  EXPECT_THAT(allow->CheckText("127.0.0.2"), HasSubstr("loopback"));
  EXPECT_EQ(allow->CheckText("10.1.200.3"), "");
  EXPECT_THAT(allow->CheckText("10.2.0.1"), HasSubstr("private"));
  EXPECT_FALSE(AddressPolicy::Make({"not-an-ip"}).ok());
}

std::vector<std::string> Urls(const std::vector<Link>& links, LinkKind kind) {
  std::vector<std::string> out;
  for (const Link& l : links)
    if (l.kind == kind) out.push_back(l.url);
  return out;
}

TEST(HtmlExtractorTest, FindsLazyImagesPagesArchivesAndPlaylists) {
  const std::string html = R"html(<html><head><base href="http://r.example/m/">
    <meta http-equiv="refresh" content="5; url='/next'"></head><body>
    <img src="blank.gif" data-src="p1.jpg" srcset="p1-2x.jpg 2x, p1-3x.jpg 3x">
    <img data-original="/p2.webp"><picture><source srcset="p3.avif"></picture>
    <a href="c2.html">next</a><a href="http://locker.example/v1.cbz">dl</a>
    <a href="javascript:void(0)">x</a><iframe src="/embed"></iframe>
    <video src="/ep1.m3u8" poster="/poster.jpg"></video><a href="#top">top</a>
    </body></html>)html";
  std::vector<Link> links = ExtractLinks(html, "http://r.example/m/c1.html", {});
  EXPECT_THAT(Urls(links, LinkKind::kMedia),
              ElementsAre("http://r.example/m/p1.jpg", "http://r.example/m/blank.gif",
                          "http://r.example/m/p1-2x.jpg", "http://r.example/m/p1-3x.jpg",
                          "http://r.example/p2.webp", "http://r.example/m/p3.avif",
                          "http://r.example/poster.jpg"));
  EXPECT_THAT(
      Urls(links, LinkKind::kPage),
      ElementsAre("http://r.example/next", "http://r.example/m/c2.html", "http://r.example/embed"));
  EXPECT_THAT(Urls(links, LinkKind::kArchive), ElementsAre("http://locker.example/v1.cbz"));
  EXPECT_THAT(Urls(links, LinkKind::kStream), ElementsAre("http://r.example/ep1.m3u8"));
}

TEST(HtmlExtractorTest, SiteRulesReadSelectorsAndScriptImageLists) {
  Result<CrawlJob> job = ParseCrawlJob(R"(
seeds = ["http://r.example/"]
[[site]]
host = "r.example"
media = ["div.reader img@data-lazy"]
script_media = ['pages = (\[[^\]]*\])']
ignore = ["/ads/"]
)",
                                       "job.toml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const std::string html = R"(<div class="x reader"><img data-lazy="/l1.png"></div>
    <div><img data-lazy="/not-in-reader.png"></div><a href="/ads/1">ad</a>
    <script>var pages = ["http:\/\/img.example\/a.jpg", "/b.jpg"];</script>)";
  std::vector<Link> links = ExtractLinks(html, "http://r.example/c", {&job->sites[0]});
  EXPECT_THAT(
      Urls(links, LinkKind::kMedia),
      ElementsAre("http://r.example/l1.png", "http://img.example/a.jpg", "http://r.example/b.jpg"));
  EXPECT_TRUE(Urls(links, LinkKind::kPage).empty());
}

TEST(JsonPathTest, SelectsImageListsFromJsonLiteralsInScripts) {
  Result<JsonPath> path = JsonPath::Parse("$.chapter.images[*].url");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  // A JavaScript assignment whose right side is JSON, after unrelated code.
  const std::string script = R"(var t = {a: 1}; window.__DATA__ = {"chapter": {"n": 3,
    "images": [{"url": "https:\/\/cdn.example\/p1.jpg", "w": 900}, {"url": "/p2.jpg"},
               {"w": 5}, {"url": 7}]}, "x": "]}"};
    load(window.__DATA__);)";
  EXPECT_THAT(path->Select(script), ElementsAre("https://cdn.example/p1.jpg", "/p2.jpg"));
  // The whole script is JSON (<script type="application/json">).
  EXPECT_THAT(JsonPath::Parse("$['chapter']['images'][-1]")
                  ->Select(R"({"chapter": {"images": ["a.jpg", "b.jpg"]}})"),
              ElementsAre("b.jpg"));
  // A selected array contributes its strings; wildcards over objects.
  EXPECT_THAT(JsonPath::Parse("$.pages")->Select(R"(f({"pages": ["1.png", 2, "3.png"]}))"),
              ElementsAre("1.png", "3.png"));
  EXPECT_THAT(
      JsonPath::Parse("$.*.src")->Select(R"(x = {"a": {"src": "a.jpg"}, "b": {"src": "b.jpg"}})"),
      ElementsAre("a.jpg", "b.jpg"));
  EXPECT_TRUE(path->Select("var x = [1, 2, {broken").empty());
  EXPECT_TRUE(path->Select("no json here").empty());
}

TEST(JsonPathTest, RefusesWhatTheSubsetDoesNotHave) {
  EXPECT_FALSE(JsonPath::Parse("chapter.images").ok());
  EXPECT_FALSE(JsonPath::Parse("$..url").ok());
  EXPECT_FALSE(JsonPath::Parse("$.images[?(@.w > 1)]").ok());
  EXPECT_FALSE(JsonPath::Parse("$.images[0:2]").ok());
  EXPECT_FALSE(JsonPath::Parse("$.images[").ok());
  Result<CrawlJob> job = ParseCrawlJob(
      "seeds = [\"http://r.example/\"]\n[[site]]\nscript_json = [\"$..x\"]\n", "j.toml");
  ASSERT_FALSE(job.ok());
  EXPECT_THAT(job.status().message(), HasSubstr("site.script_json"));
}

TEST(HtmlExtractorTest, SiteRulesReadJsonPathsInScripts) {
  Result<CrawlJob> job = ParseCrawlJob(R"(
seeds = ["http://r.example/"]
[[site]]
host = "r.example"
script_json = ['$.chapter.images[*].url']
)",
                                       "job.toml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  const std::string html = R"(<script>window.__DATA__ = {"chapter": {"images":
    [{"url": "/c1/p1.jpg"}, {"url": "http://img.example/p2.jpg"}]}};</script>)";
  std::vector<Link> links = ExtractLinks(html, "http://r.example/c", {&job->sites[0]});
  EXPECT_THAT(Urls(links, LinkKind::kMedia),
              ElementsAre("http://r.example/c1/p1.jpg", "http://img.example/p2.jpg"));
}

TEST(CrawlJobTest, LiveHlsBoundsAreJobLimits) {
  Result<CrawlJob> job = ParseCrawlJob(
      "seeds = [\"http://a/\"]\n[limits]\nlive_max_media_s = 90\nlive_max_segments = 12\n"
      "live_max_wall_s = 120\nlive_max_stall_s = 30\n",
      "j.toml");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->limits.live_max_media_s, 90);
  EXPECT_EQ(job->limits.live_max_segments, 12);
  EXPECT_EQ(job->limits.live_max_wall_s, 120);
  EXPECT_EQ(job->limits.live_max_stall_s, 30);
  Result<CrawlJob> defaults = ParseCrawlJob("seeds = [\"http://a/\"]\n", "j.toml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->limits.live_max_media_s, 600);
  EXPECT_EQ(defaults->limits.live_max_segments, 600);
  Result<CrawlJob> bad =
      ParseCrawlJob("seeds = [\"http://a/\"]\n[limits]\nlive_max_segments = 0\n", "j.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("limits.live_max_segments"));
}

TEST(CrawlJobTest, ColourCheckIsOnUnlessTheJobTurnsItOff) {
  Result<CrawlJob> defaults = ParseCrawlJob("seeds = [\"http://a/\"]\n", "j.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_TRUE(defaults->colour_check);
  Result<CrawlJob> off = ParseCrawlJob("seeds = [\"http://a/\"]\ncolour_check = false\n", "j.toml");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->colour_check);
  Result<CrawlJob> bad =
      ParseCrawlJob("seeds = [\"http://a/\"]\ncolour_check = \"no\"\n", "j.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("colour_check"));
}

TEST(CrawlJobTest, ErrorsNameTheKey) {
  Result<CrawlJob> bad =
      ParseCrawlJob("seeds = [\"http://a/\"]\n[limits]\nmax_depth = -3\n", "j.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("limits.max_depth"));
  EXPECT_FALSE(ParseCrawlJob("name = \"x\"\n", "j.toml").ok());  // no seeds
  EXPECT_FALSE(ParseCrawlJob("seeds = [\"ftp://a/\"]\n", "j.toml").ok());
  EXPECT_FALSE(ParseCrawlJob("seeds = [\n", "j.toml").ok());
}

std::string GzipOf(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  return out;
}

TEST(DecodeContentTest, DecodesGzipAndRefusesBombsByRatioAndSize) {
  std::string text = "<html>" + std::string(5000, 'a') + "</html>";
  Result<std::string> ok = DecodeContent("gzip", GzipOf(text), 1 << 20, 1000);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, text);
  std::string bomb = GzipOf(std::string(20 << 20, ' '));
  Result<std::string> by_ratio = DecodeContent("gzip", bomb, 64 << 20, 100);
  EXPECT_EQ(by_ratio.status().code(), StatusCode::kResourceExhausted);
  Result<std::string> by_size = DecodeContent("gzip", bomb, 1 << 20, 1e6);
  EXPECT_EQ(by_size.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(DecodeContent("zstd", "x", 10, 10).status().code(), StatusCode::kUnsupported);
}

std::time_t Utc(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return timegm(&tm);
}

TEST(CronTest, NextMatchingMinuteInUtc) {
  Result<CronSchedule> daily = CronSchedule::Parse("17 3 * * *");
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(daily->Next(Utc(2026, 11, 30, 1, 0)), Utc(2026, 11, 30, 3, 17));
  EXPECT_EQ(daily->Next(Utc(2026, 11, 30, 3, 17)), Utc(2026, 12, 1, 3, 17));
  Result<CronSchedule> every = CronSchedule::Parse("*/15 * * * *");
  EXPECT_EQ(every->Next(Utc(2026, 1, 1, 0, 7)), Utc(2026, 1, 1, 0, 15));
  Result<CronSchedule> monday = CronSchedule::Parse("0 9 * * 1");  // 2026-11-30 is a Monday
  EXPECT_EQ(monday->Next(Utc(2026, 11, 30, 10, 0)), Utc(2026, 12, 7, 9, 0));
  Result<CronSchedule> leap = CronSchedule::Parse("0 0 29 2 *");
  EXPECT_EQ(leap->Next(Utc(2026, 3, 1, 0, 0)), Utc(2028, 2, 29, 0, 0));
  EXPECT_FALSE(CronSchedule::Parse("61 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * *").ok());
}

}  // namespace
}  // namespace kagami::crawler
