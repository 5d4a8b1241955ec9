/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/*
 * `docker import --change` (and `docker commit --change`): Dockerfile instructions applied to an
 * image's container config, with dockerd's semantics (moby's builder/dockerfile BuildFromConfig over
 * buildkit's Dockerfile parser and shell lexer).
 *
 * The changes are joined with newlines and read as a Dockerfile: keywords in any case, `#` comments,
 * blank lines, lines continued with the escape character, a leading escape directive (# escape=`).  The
 * instructions a change may use are dockerd's: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
 * ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR; any other is "RUN is not a valid change command".
 *
 *   CMD, ENTRYPOINT   a JSON array of strings (exec form), else the text as ["/bin/sh", "-c", text]
 *                     (the config's Shell when it has one).  ENTRYPOINT clears Cmd unless a CMD with
 *                     arguments came earlier in the same changes.
 *   ENV               k=v k2="v 2" ..., or the legacy `ENV k v w` (the rest of the line is the
 *                     value); an existing variable is replaced where it stands, a new one appended.
 *   LABEL             as ENV, into Labels.
 *   EXPOSE            80 80/tcp 53/udp 8000-8002 (a range adds each port; tcp, udp, sctp), into
 *                     ExposedPorts as "80/tcp"; docker's [ip:][hostport:] prefix is accepted and
 *                     dropped, as docker does.
 *   VOLUME            a JSON array or space-separated paths, into Volumes.
 *   WORKDIR           an absolute path, or one relative to the previous WorkingDir; cleaned.
 *   USER              the text as it is.
 *   STOPSIGNAL        a signal name (TERM, SIGTERM, RTMIN+3) or number, kept as written.
 *   HEALTHCHECK       NONE, or [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D]
 *                     [--retries=N] CMD ...  (Go durations of at least 1ms) into Healthcheck.
 *   ONBUILD           the trigger instruction's text appended to OnBuild (not ONBUILD, FROM or
 *                     MAINTAINER).
 *
 * ENV, LABEL, EXPOSE, VOLUME, WORKDIR, USER and STOPSIGNAL words go through the Dockerfile lexer:
 * quotes removed, escapes applied, $VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word},
 * ${VAR+word}, ${VAR:?message} and ${VAR?message} substituted from the config's Env as it stands
 * before the instruction.  Not supported: heredocs, and the ${VAR#pattern}, ${VAR%pattern} and
 * ${VAR/pattern/replacement} forms (an error naming the modifier).
 *
 * Where we are stricter than dockerd, on purpose: a STOPSIGNAL number must be a signal (1..SIGRTMAX;
 * docker takes any non-zero integer), an ENV or LABEL name that substitutes to nothing is refused
 * (docker stores "=value"), a WorkingDir longer than 4095 bytes is refused, and so is the text below.
 *
 * Hostile input: each change is at most IMAGE_CHANGE_MAX bytes of valid UTF-8 without control
 * characters other than tab and newline (a CR before a newline is dropped), at most
 * IMAGE_CHANGES_MAX changes of at most IMAGE_CHANGES_TOTAL_MAX bytes together; substitutions may
 * produce at most IMAGE_CHANGE_EXPAND_MAX bytes in all, EXPOSE at most IMAGE_CHANGE_PORTS_MAX ports.
 */
#define IMAGE_CHANGE_MAX        (64u * 1024)
#define IMAGE_CHANGES_MAX       1024
#define IMAGE_CHANGES_TOTAL_MAX (1024u * 1024)
#define IMAGE_CHANGE_EXPAND_MAX (1024u * 1024)
#define IMAGE_CHANGE_PORTS_MAX  65536

/*
 * Applies the NULL-terminated changes to config, an image config's "config" object (docker's
 * container.Config keys: Cmd, Entrypoint, Env, WorkingDir, User, Labels, ExposedPorts, Volumes,
 * StopSignal, Healthcheck, OnBuild...).  The keys are left in the order docker marshals them, and
 * Labels, Volumes and ExposedPorts sorted as Go marshals maps, so equal changes give equal bytes.
 * No changes (NULL or empty) leave config as it is.  On failure config is untouched and -EINVAL is
 * returned with a message naming the instruction and the reason (docker's words where it has them:
 * "RUN is not a valid change command", "ENV must have two arguments", "Invalid signal: FOO").
 */
int image_change_apply(json_t *config, char *const *changes, Error **err);

/*
 * Checks user text meant for an image config (a --message, a --change): at most max bytes, valid
 * UTF-8, no control characters (C0, DEL, C1) except tab and, with newlines set, newline and a CR
 * before one.  -EINVAL with "<what>: <reason>" otherwise.
 */
int image_text_check(const char *what, const char *s, size_t max, bool newlines, Error **err);
