#!/bin/sh
# Start nginx and the backend, stop both when either dies (so the container restarts), and
# pass SIGTERM on to both. Runs as root only to find the Docker socket's group; both servers
# run as the unprivileged user "manager".
set -eu

SOCKET=${DOCKER_SOCKET:-/var/run/docker.sock}
if [ -S "$SOCKET" ]; then
  # The socket's group differs between hosts: give "manager" that group.
  gid=$(stat -c %g "$SOCKET")
  if [ "$gid" = 0 ]; then
    usermod -aG root manager
  else
    getent group "$gid" >/dev/null || groupadd --gid "$gid" docker-host
    usermod -aG "$(getent group "$gid" | cut -d: -f1)" manager
  fi
fi

# The manager's own container, so it can join users' networks (its hostname is its id).
export MANAGER_CONTAINER="${MANAGER_CONTAINER:-$(hostname)}"
export HOST=127.0.0.1 PORT="$BACKEND_PORT"

run_as_manager() { setpriv --reuid=manager --regid=manager --init-groups -- "$@"; }

# nginx's configuration from the settings; wrong settings stop the start here, saying which.
run_as_manager python3 -m lab_workspace_manager.proxy_config > /run/nginx/nginx.conf

run_as_manager python3 -m lab_workspace_manager.app &
backend=$!
# nginx takes connections only once the backend answers (whatever it says): a replica that
# (re)starts behind a load balancer refuses connections meanwhile (the balancer tries another)
# rather than answering 502.
tries=0
until curl -sS -o /dev/null "http://127.0.0.1:$BACKEND_PORT/healthz" 2>/dev/null; do
  kill -0 "$backend" 2>/dev/null || { echo "start-manager: the backend did not start" >&2; exit 1; }
  tries=$((tries + 1))
  [ "$tries" -lt 600 ] || { echo "start-manager: the backend did not answer in 60 s" >&2; exit 1; }
  sleep 0.1
done
run_as_manager nginx -c /run/nginx/nginx.conf -g 'daemon off;' &
web=$!

stopping=0
stop() { stopping=1; kill -TERM "$backend" "$web" 2>/dev/null || true; }
trap stop TERM INT
# Whichever ends first ends the container, with a failure status, so the engine's restart
# policy brings it back; a SIGTERM ends it cleanly.
while [ "$stopping" = 0 ] && kill -0 "$backend" 2>/dev/null && kill -0 "$web" 2>/dev/null; do
  sleep 1 &
  wait $! || true
done
[ "$stopping" = 1 ] || echo "start-manager: the backend or nginx stopped; stopping the other" >&2
kill -TERM "$backend" "$web" 2>/dev/null || true
wait "$backend" 2>/dev/null || true
wait "$web" 2>/dev/null || true
[ "$stopping" = 1 ] && exit 0
exit 1
