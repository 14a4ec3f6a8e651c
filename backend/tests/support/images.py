"""The test images (built by `python3 build.py --images`)."""

TEST_IMAGE = "lwm-test-workspace:latest"
CRASH_IMAGE = "lwm-test-crash:latest"
OOM_IMAGE = "lwm-test-oom:latest"
ECHO_IMAGE = "lwm-test-echo:latest"
ATTACKER_IMAGE = "lwm-test-attacker:latest"
# The test workspace under a second name: an "image change" that still starts a workspace.
ALT_IMAGE = "lwm-test-workspace:alt"
