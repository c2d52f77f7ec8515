// Runs graphql-http's GraphQL-over-HTTP server audits against a live server.
//
//   node audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one JSON object on stdout: {"counts": {"ok": n, "notice": n, "warn": n, "error": n},
// "results": [{id, name, status, reason, status_code}]}; the Python test judges it.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs GRAPHQL_URL');
  process.exit(2);
}

const results = await auditServer({ url });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const report = [];
for (const result of results) {
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== 'ok') {
    entry.reason = result.reason;
    entry.status_code = result.response?.status ?? null;
  }
  report.push(entry);
}
process.stdout.write(JSON.stringify({ counts, results: report }) + '\n');
