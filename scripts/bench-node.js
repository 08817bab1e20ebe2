// A Node.js program doing the router's per-event work on the same input: parse, finding view, the shipped rules
// (filter, routes, the oneliner format) written in JS, a detailed Block Kit render with escaping, serialise.
const fs = require('fs');
const jsonLines = process.argv.includes('--json-lines');
const lines = jsonLines ? [] : fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(l => l.trim());
const esc = s => String(s).replace(/[&<>]/g, c => c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;');
const label = s => s == null ? 'UNKNOWN' : s >= 9 ? 'CRITICAL' : s >= 7 ? 'HIGH' : s >= 4 ? 'MEDIUM' : 'LOW';
function view(ev) {
  const d = ev.detail; const t = d.type || ''; const [purpose, rest = ''] = t.split(':');
  const [kind, fam = ''] = rest.split('/'); const [family, artifact] = fam.split('!');
  const sv = d.service || {}; const info = sv.additionalInfo || {};
  const res = d.resource || {};
  const inst = res.instanceDetails; const ak = res.accessKeyDetails;
  return { id: d.id, type: t, purpose, resource_kind: kind, family, artifact, severity: d.severity || 0,
    severity_label: label(d.severity), title: d.title || '', description: d.description || '',
    account: d.accountId || ev.account, region: d.region || ev.region, partition: d.partition || 'aws',
    resource_type: res.resourceType, action_type: sv.action && sv.action.actionType, count: sv.count || 1,
    first_seen: sv.eventFirstSeen, last_seen: sv.eventLastSeen, archived: !!sv.archived, sample: !!info.sample,
    console_url: `https://console.aws.amazon.com/guardduty/home?region=${d.region}#/findings?macros=current&fId=${d.id}`,
    resource: inst ? inst.instanceId : ak ? ak.userName : res.resourceType, detail: d };
}
const noisy = { '444455556666': 'red-team sandbox' }, oncall = { platform: 'S0PLATFORM1', identity: 'S0IDENTITY1', data: 'S0DATAOPS01' };
const teams = { '111122223333': '#team-payments-security' };
function filter(f) {
  if (f.archived) return [false, 'archived'];
  const why = noisy[f.account]; if (why && f.severity < 7) return [false, 'noisy'];
  if (f.severity_label === 'LOW') return [false, 'LOW severity'];
  return [true];
}
function route(f) {
  const out = [];
  if (f.severity_label === 'CRITICAL') out.push({ channel: '#sec-critical', mention: ['<!here>'], format: 'detailed' });
  const high = f.severity >= 7; const add = (c, m) => out.push({ channel: c, mention: high && m ? ['<!subteam^' + m + '>'] : [], format: 'detailed' });
  const k = f.resource_kind; let routed = false;
  if (f.purpose === 'CryptoCurrency') { add('#sec-crypto', oncall.platform); routed = true; }
  else if (['Kubernetes', 'EKS', 'ECS', 'Container', 'Runtime'].includes(k)) { add('#sec-containers', oncall.platform); routed = true; }
  else if (k === 'IAMUser' || k === 'IAM') { add('#sec-identity', oncall.identity); routed = true; }
  else if (k === 'S3' || k === 'RDS') { add('#sec-data', oncall.data); routed = true; }
  const t = teams[f.account]; if (t) { out.push({ channel: t, mention: [], format: 'compact' }); routed = true; }
  if (!routed) out.push({ channel: '#sec-alerts', mention: [], format: f.severity >= 7 ? 'detailed' : 'oneliner' });
  return out;
}
const cut = (s, n) => s.length > n ? s.slice(0, n - 1) + '…' : s;
function render(f, d) {
  const m = d.mention.join(' ');
  if (d.format === 'oneliner' || d.format === 'compact') {
    return { channel: d.channel, text: `${m} ${f.severity_label === 'MEDIUM' ? ':large_orange_circle:' : ':white_circle:'} *${f.severity_label}* \`${esc(f.type)}\` on ${esc(f.resource)} in ${f.account}/${f.region} (x${f.count}) <${esc(f.console_url)}|open>` };
  }
  const colour = { CRITICAL: '#7b0000', HIGH: '#d0021b', MEDIUM: '#f5a623', LOW: '#4a90e2' }[f.severity_label] || '#999999';
  return { channel: d.channel, text: cut(`${m} ${f.severity_label}: ${esc(f.title)} (account ${f.account}, ${f.region})`, 3000),
    attachments: [{ color: colour, blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(`${f.severity_label} ${f.type}`, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: cut(esc(f.description), 3000) } },
      { type: 'section', fields: [['Account', f.account], ['Region', f.region], ['Severity', `${f.severity_label} (${f.severity})`], ['Count', String(f.count)], ['Resource', esc(f.resource || '')], ['First seen', f.first_seen || ''], ['Last seen', f.last_seen || '']].map(([k, v]) => ({ type: 'mrkdwn', text: cut(`*${k}*\n${v}`, 2000) })) },
      { type: 'context', elements: [{ type: 'mrkdwn', text: cut(`${esc(f.id)} · <${esc(f.console_url)}|Open in the GuardDuty console>`, 2000) }] },
    ] }] };
}
// --json-lines: the whole `router test rules EVENTS --json` process instead: every event's result line (the same
// shape: source, finding, dropped, dropped_by, unrouted, deliveries with payload and lifecycle, errors) written to
// standard output, the lifecycle simulated per finding and channel as router test does; time it from outside.
if (jsonLines) {
  const file = process.argv.slice(2).find(a => a !== '--json-lines');
  const events = fs.readFileSync(file, 'utf8').split('\n');
  const threads = new Map();
  const outChunks = []; let pending = 0;
  const flush = () => { if (outChunks.length) { fs.writeSync(1, outChunks.join('')); outChunks.length = 0; pending = 0; } };
  let lineNo = 0;
  for (const text of events) {
    lineNo++;
    if (!text.trim()) continue;
    const source = `${file}:${lineNo}`;
    let ev;
    try { ev = JSON.parse(text); } catch (e) { outChunks.push(JSON.stringify({ source, error: { kind: 'invalid_json', message: e.message } }) + '\n'); continue; }
    const f = view(ev); const [keep, why] = filter(f);
    const result = { source, finding: { id: f.id, type: f.type, severity: f.severity, severity_label: f.severity_label, account: f.account, region: f.region },
      dropped: !keep, dropped_by: keep ? null : { file: 'rules/10-noise.lua', reason: why }, unrouted: false, deliveries: [], errors: [] };
    if (keep) {
      for (const d of route(f)) {
        const key = f.id + '\u001f' + d.channel; const prev = threads.get(key); const updated = ev.detail.updatedAt || '';
        let lifecycle;
        if (!prev) { threads.set(key, { updated, count: f.count, label: f.severity_label }); lifecycle = { action: 'post', detail: 'new post (first event of this finding here)', on_update: 'thread', reply: null }; }
        else if (updated > prev.updated) { const reply = `:repeat: Seen ${f.count} times (was ${prev.count})`; threads.set(key, { updated, count: f.count, label: f.severity_label }); lifecycle = { action: 'edit+reply', detail: 'edit + thread reply', on_update: 'thread', reply }; }
        else lifecycle = { action: 'nothing', detail: `nothing posted (already handled: updatedAt ${updated} is not newer than ${prev.updated})`, on_update: 'thread', reply: null };
        result.deliveries.push({ channel: d.channel, mention: d.mention, format: d.format, to: 'default', file: 'rules/50-teams.lua', fallback: false, payload: render(f, d), lifecycle });
      }
    }
    outChunks.push(JSON.stringify(result) + '\n');
    if (++pending >= 1000) flush();
  }
  flush();
  process.exit(0);
}

let bytes = 0, n = 0;
function one(line) {
  const ev = JSON.parse(line); const f = view(ev); const [keep] = filter(f);
  if (!keep) return; for (const d of route(f)) { bytes += JSON.stringify(render(f, d)).length; }
}
for (let i = 0; i < 500; i++) one(lines[i % lines.length]);
const passes = 3; const t0 = process.hrtime.bigint();
for (let p = 0; p < passes; p++) for (const l of lines) { one(l); n++; }
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`node ${process.version}: ${Math.round(n / s)} events/s (${n} events, ${(s * 1e6 / n).toFixed(2)} us each), ${Math.round(bytes / n)} payload bytes per event`);
