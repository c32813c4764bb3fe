"""Scrapy peer for bench/crawl/run.sh: fetch-only crawl of the bench site.

Follows a[href] and fetches img[src] on the seed's host, obeying robots.txt,
with the same per-host concurrency as Kagami. Prints one JSON line of totals.
Usage: python3 scrapy_fetch.py SEED CONCURRENCY
"""
import json
import sys
import time
from urllib.parse import urlparse

import scrapy
from scrapy.crawler import CrawlerProcess

TOTALS = {"pages": 0, "media": 0, "bytes": 0}


class FetchSpider(scrapy.Spider):
    name = "fetch"

    def __init__(self, seed, **kw):
        super().__init__(**kw)
        self.start_urls = [seed]
        self.allowed_domains = [urlparse(seed).hostname]

    def parse(self, response):
        TOTALS["bytes"] += len(response.body)
        ctype = response.headers.get("Content-Type", b"").decode()
        if "html" not in ctype:
            TOTALS["media"] += 1
            return
        TOTALS["pages"] += 1
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, self.parse)
        for src in response.css("img::attr(src)").getall():
            yield response.follow(src, self.parse)


def main():
    seed, conc = sys.argv[1], int(sys.argv[2])
    process = CrawlerProcess(settings={
        "LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": conc,
        "CONCURRENT_REQUESTS_PER_DOMAIN": conc, "DOWNLOAD_DELAY": 0,
        "TELNETCONSOLE_ENABLED": False, "COOKIES_ENABLED": False,
        "USER_AGENT": "scrapy-bench", "HTTPCACHE_ENABLED": False,
    })
    process.crawl(FetchSpider, seed=seed)
    start = time.time()
    process.start()
    TOTALS["seconds"] = time.time() - start
    print(json.dumps(TOTALS))


if __name__ == "__main__":
    main()
