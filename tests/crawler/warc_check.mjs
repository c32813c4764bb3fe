// Independent check of Kagami's WARC files with warcio.js (webrecorder).
// Usage: node warc_check.mjs FILE.warc.gz...  Prints one JSON object per
// response record: {uri, ip, date, type, payload_sha256_claimed,
// payload_sha256_actual, status}. Exits 1 on any read error.
import fs from "node:fs";
import crypto from "node:crypto";
import { WARCParser } from "warcio";

let failed = false;
for (const file of process.argv.slice(2)) {
  try {
    const parser = new WARCParser(fs.createReadStream(file));
    for await (const record of parser) {
      const type = record.warcType;
      const out = {
        file,
        type,
        version: record.warcHeaders.statusline,
        uri: record.warcTargetURI || null,
        date: record.warcDate || null,
        ip: record.warcHeader("WARC-IP-Address") || null,
        id: record.warcHeader("WARC-Record-ID") || null,
        payload_digest: record.warcHeader("WARC-Payload-Digest") || null,
        truncated: record.warcHeader("WARC-Truncated") || null,
      };
      if (type === "response") {
        out.status = record.httpHeaders ? Number(record.httpHeaders.statusCode) : null;
        const payload = await record.readFully(false);  // entity body as stored, not decoded
        out.payload_sha256 = "sha256:" + crypto.createHash("sha256").update(payload).digest("hex");
      } else {
        await record.readFully(false);
      }
      console.log(JSON.stringify(out));
    }
  } catch (e) {
    console.error(file + ": " + e);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
