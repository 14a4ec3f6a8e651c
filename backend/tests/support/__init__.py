"""Helpers and constants the tests (and the benchmarks) import; fixtures stay in conftest.py.

- `settings`: `make_settings` and the per-process session values (`SESSION_INSTANCE`,
  `ADMIN_TOKEN`, `DATA_DIR`), defined here once so that every importer sees the same ones
- `images`: the names of the test images (`build.py --images`)
- `engine`: helpers on the real Docker engine (what a session owns, cleaning up, the bridge)
- `apiclient`: `Api`, a signed-in user's client on an app; `open_api`, `running`, `eventually`
- `docker_api`: an `Api` on the Docker backend with the tests' settings
- `manager_image`: the built manager image started on the engine (`Manager`, `start_manager`)
- `browser`: Chromium's settings and the manager the browser tests start
- `jupyter`: a workspace's Jupyter as a browser uses it (kernels, code over a WebSocket)
- `contaxy_server`: a real ML Lab backend (contaxy and PostgreSQL) on loopback
- `private_engine`: a second Docker engine of the tests' own, to restart or set up differently
"""
