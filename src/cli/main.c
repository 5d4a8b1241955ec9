/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stockade: the engine's command line, with docker's commands and flags, and no daemon. */
#include "cli.h"
#include "util.h"

/* fn NULL: run by the stockade-image helper (image-main.c), which links libarchive. */
static const CliCommand commands[] = {
        { "run", cmd_run, "Create and run a new container from an image" },
        { "create", cmd_create, "Create a new container" },
        { "start", cmd_start, "Start one or more stopped containers" },
        { "stop", cmd_stop, "Stop one or more running containers" },
        { "kill", cmd_kill, "Kill one or more running containers" },
        { "restart", cmd_restart, "Restart one or more containers" },
        { "rm", cmd_rm, "Remove one or more containers" },
        { "ps", cmd_ps, "List containers" },
        { "wait", cmd_wait, "Block until one or more containers stop, then print their exit codes" },
        { "logs", cmd_logs, "Fetch the logs of a container" },
        { "exec", cmd_exec, "Execute a command in a running container" },
        { "attach", cmd_attach, "Attach to a running container's output (and input)" },
        { "inspect", cmd_inspect, "Return low-level information on containers or images" },
        { "top", cmd_top, "Display the running processes of a container" },
        { "stats", cmd_stats, "Display a snapshot of containers' resource usage" },
        { "pause", cmd_pause, "Pause all processes within one or more containers" },
        { "unpause", cmd_unpause, "Unpause all processes within one or more containers" },
        { "rename", cmd_rename, "Rename a container" },
        { "update", cmd_update, "Update the resource limits of containers" },
        { "import", NULL, "Import a root filesystem tarball as an image" },
        { "load", NULL, "Load images from a docker save archive or an OCI layout" },
        { "save", NULL, "Save images to a tar archive (docker save format)" },
        { "images", cmd_images, "List images" },
        { "rmi", cmd_rmi, "Remove one or more images" },
        { "tag", cmd_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE" },
        { "volume", cmd_volume, "Manage volumes (create, ls, inspect, rm, prune)" },
        { "events", cmd_events, "Get events from the event log (past and live)" },
        { "audit", cmd_audit, "Show the audit log, or verify its hash chain (audit verify)" },
        { "apparmor", cmd_apparmor, "Print the default AppArmor profile, or load a profile file" },
        { "seccomp", cmd_seccomp, "Record, check, compare and print seccomp profiles" },
        { "serve", cmd_serve, "Serve the Docker Engine API on a socket (docs/API.md)" },
        { "compose", cmd_compose, "Run compose files (up, down, ps, logs, config, start, stop, restart, exec, run)" },
};

int main(int argc, char **argv)
{
        return cli_main(argc, argv, commands, ELEMENTSOF(commands));
}
