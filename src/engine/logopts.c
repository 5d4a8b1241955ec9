/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The log drivers stockade knows and the --log-opt keys each takes, checked before a container is
 * created (see logdriver.h).  The key lists are docker's (moby daemon/logger, each driver's
 * ValidateLogOpt); mode and max-buffer-size are the daemon's own, taken by every driver but none.
 * Messages are docker's where it has one.  No I/O here: the CLI and the monitor both link it.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logdriver.h"
#include "template.h"
#include "util.h"

#define COMMON_ATTRS "labels", "labels-regex", "env", "env-regex"

static const char *const json_file_keys[] = { "max-size", "max-file", "compress", "tag", COMMON_ATTRS, NULL };
static const char *const local_keys[] = { "max-size", "max-file", "compress", NULL };
static const char *const none_keys[] = { NULL };
static const char *const syslog_keys[] = { "syslog-address", "syslog-facility", "syslog-tls-ca-cert", "syslog-tls-cert",
                                           "syslog-tls-key", "syslog-tls-skip-verify", "syslog-format", "tag",
                                           COMMON_ATTRS, NULL };
static const char *const journald_keys[] = { "tag", COMMON_ATTRS, NULL };
static const char *const fluentd_keys[] = { "fluentd-address", "fluentd-async", "fluentd-async-connect",
                                            "fluentd-buffer-limit", "fluentd-retry-wait", "fluentd-max-retries",
                                            "fluentd-sub-second-precision", "fluentd-request-ack", "tag",
                                            COMMON_ATTRS, NULL };
static const char *const splunk_keys[] = { "splunk-url", "splunk-token", "splunk-source", "splunk-sourcetype",
                                           "splunk-index", "splunk-capath", "splunk-caname",
                                           "splunk-insecureskipverify", "splunk-format", "splunk-verify-connection",
                                           "splunk-gzip", "splunk-gzip-level", "tag", COMMON_ATTRS, NULL };

typedef struct DriverSpec {
        const char *name;
        const char *const *keys;
        bool readable;
} DriverSpec;

static const DriverSpec drivers[] = {
        { "json-file", json_file_keys, true }, { "local", local_keys, true },      { "none", none_keys, false },
        { "syslog", syslog_keys, false },      { "journald", journald_keys, true }, { "fluentd", fluentd_keys, false },
        { "splunk", splunk_keys, false },
};

static const DriverSpec *find(const char *type)
{
        for (size_t i = 0; i < ELEMENTSOF(drivers); i++)
                if (STREQ(drivers[i].name, type))
                        return &drivers[i];
        return NULL;
}

bool log_driver_readable(const char *type)
{
        const DriverSpec *d = type ? find(type) : NULL;
        return d && d->readable;
}

const char *log_driver_names(void)
{
        return "json-file, local, none, syslog, journald, fluentd, splunk";
}

static bool is_bool(const char *s)
{
        /* Go's strconv.ParseBool, which docker uses for its boolean options. */
        static const char *const ok[] = { "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (STREQ(s, ok[i]))
                        return true;
        return false;
}

static bool is_true(const char *s)
{
        return s && (STREQ(s, "1") || STREQ(s, "t") || STREQ(s, "T") || STREQ(s, "TRUE") || STREQ(s, "true") ||
                     STREQ(s, "True"));
}

static const char *opt(json_t *opts, const char *key)
{
        return json_string_value(json_object_get(opts, key));
}

static int check_bool(json_t *opts, const char *key, Error **err)
{
        const char *v = opt(opts, key);
        if (v && !is_bool(v))
                return error_setx(err, EINVAL, "log-opt %s: invalid value '%s' (true or false)", key, v);
        return 0;
}

static int check_size(json_t *opts, const char *key, bool allow_unlimited, int64_t *ret, Error **err)
{
        const char *v = opt(opts, key);
        int64_t n = -1;

        if (v && (parse_size(v, &n) < 0 || (n <= 0 && !(allow_unlimited && n == -1))))
                return error_setx(err, EINVAL, "failed to initialize logging driver: invalid size: '%s' (log-opt %s)", v,
                                  key);
        if (ret)
                *ret = v ? n : -1;
        return 0;
}

static int check_uint(json_t *opts, const char *key, int64_t min, int64_t max, int64_t *ret, Error **err)
{
        const char *v = opt(opts, key);
        int64_t n = 0;

        if (v && (parse_int64(v, &n) < 0 || n < min || n > max))
                return error_setx(err, EINVAL, "log-opt %s: invalid value '%s' (a whole number from %lld to %lld)", key, v,
                                  (long long)min, (long long)max);
        if (ret)
                *ret = v ? n : -1;
        return 0;
}

static int check_duration(json_t *opts, const char *key, Error **err)
{
        const char *v = opt(opts, key);
        int64_t ms;

        if (v && (parse_duration_ms(v, &ms) < 0 || ms < 0))
                return error_setx(err, EINVAL, "log-opt %s: invalid duration '%s' (such as 500ms, 1s, 1m30s)", key, v);
        return 0;
}

static int check_regex(json_t *opts, const char *key, Error **err)
{
        const char *v = opt(opts, key);
        regex_t re;
        int r;

        if (!v)
                return 0;
        r = regcomp(&re, v, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                char msg[128];
                regerror(r, &re, msg, sizeof(msg));
                return error_setx(err, EINVAL, "log-opt %s: invalid regular expression '%s': %s", key, v, msg);
        }
        regfree(&re);
        return 0;
}

static int check_one_of(json_t *opts, const char *key, const char *const *values, const char *shown, Error **err)
{
        const char *v = opt(opts, key);

        if (!v)
                return 0;
        for (size_t i = 0; values[i]; i++)
                if (STREQ(v, values[i]))
                        return 0;
        return error_setx(err, EINVAL, "log-opt %s: invalid value '%s' (%s)", key, v, shown);
}

/* An address with one of the schemes (scheme://...), or, when bare_ok, host:port. */
static int check_address(json_t *opts, const char *key, const char *const *schemes, bool bare_ok, Error **err)
{
        const char *v = opt(opts, key), *sep;

        if (!v)
                return 0;
        sep = strstr(v, "://");
        if (!sep) {
                if (bare_ok && *v && !strchr(v, '/'))
                        return 0;
                return error_setx(err, EINVAL, "log-opt %s: '%s' is not an address (scheme://host:port or "
                                  "unix:///path)", key, v);
        }
        for (size_t i = 0; schemes[i]; i++) {
                size_t n = strlen(schemes[i]);
                if ((size_t)(sep - v) == n && strncmp(v, schemes[i], n) == 0) {
                        if (!sep[3])
                                return error_setx(err, EINVAL, "log-opt %s: '%s' has no host or path", key, v);
                        return 0;
                }
        }
        return error_setx(err, EINVAL, "log-opt %s: unsupported scheme: '%.*s' in '%s'", key, (int)(sep - v), v, v);
}

static const char *const syslog_facilities[] = { "kern",   "user",   "mail",   "daemon", "auth",   "syslog",
                                                 "lpr",    "news",   "uucp",   "cron",   "authpriv", "ftp",
                                                 "local0", "local1", "local2", "local3", "local4", "local5",
                                                 "local6", "local7", NULL };

static int check_syslog(json_t *opts, Error **err)
{
        static const char *const schemes[] = { "udp", "tcp", "tcp+tls", "unix", "unixgram", NULL };
        static const char *const formats[] = { "", "rfc3164", "rfc5424", "rfc5424micro", NULL };
        const char *fac = opt(opts, "syslog-facility"), *addr = opt(opts, "syslog-address");
        int r;

        if ((r = check_address(opts, "syslog-address", schemes, false, err)) < 0 ||
            (r = check_one_of(opts, "syslog-format", formats, "rfc3164, rfc5424 or rfc5424micro", err)) < 0 ||
            (r = check_bool(opts, "syslog-tls-skip-verify", err)) < 0)
                return r;
        if (fac) {
                bool ok = false;
                int64_t n;
                for (size_t i = 0; syslog_facilities[i]; i++)
                        ok |= STREQ(fac, syslog_facilities[i]);
                if (!ok && parse_int64(fac, &n) == 0 && n >= 0 && n <= 23)
                        ok = true;
                if (!ok)
                        return error_setx(err, EINVAL, "log-opt syslog-facility: invalid syslog facility '%s' (a name "
                                          "such as daemon or local0, or 0 to 23)", fac);
        }
        if ((opt(opts, "syslog-tls-ca-cert") || opt(opts, "syslog-tls-cert") || opt(opts, "syslog-tls-key") ||
             opt(opts, "syslog-tls-skip-verify")) &&
            !(addr && str_has_prefix(addr, "tcp+tls://")))
                return error_setx(err, EINVAL, "log-opt syslog-tls-*: TLS options need a tcp+tls:// syslog-address");
        if (!opt(opts, "syslog-tls-cert") != !opt(opts, "syslog-tls-key"))
                return error_setx(err, EINVAL, "log-opt syslog-tls-cert and syslog-tls-key go together");
        return 0;
}

static int check_fluentd(json_t *opts, Error **err)
{
        static const char *const schemes[] = { "tcp", "unix", "tls", NULL };
        int r;

        if ((r = check_address(opts, "fluentd-address", schemes, true, err)) < 0 ||
            (r = check_bool(opts, "fluentd-async", err)) < 0 || (r = check_bool(opts, "fluentd-async-connect", err)) < 0 ||
            (r = check_bool(opts, "fluentd-sub-second-precision", err)) < 0 ||
            (r = check_bool(opts, "fluentd-request-ack", err)) < 0 ||
            (r = check_size(opts, "fluentd-buffer-limit", false, NULL, err)) < 0 ||
            (r = check_duration(opts, "fluentd-retry-wait", err)) < 0 ||
            (r = check_uint(opts, "fluentd-max-retries", 0, INT32_MAX, NULL, err)) < 0)
                return r;
        if (opt(opts, "fluentd-async") && opt(opts, "fluentd-async-connect"))
                return error_setx(err, EINVAL, "conflicting options: cannot specify both 'fluentd-async' and "
                                  "'fluentd-async-connect'");
        return 0;
}

static int check_splunk(json_t *opts, Error **err)
{
        static const char *const formats[] = { "inline", "json", "raw", NULL };
        const char *url = opt(opts, "splunk-url");
        int r;

        if (!url)
                return error_setx(err, EINVAL, "splunk: splunk-url is expected");
        if (!str_has_prefix(url, "http://") && !str_has_prefix(url, "https://"))
                return error_setx(err, EINVAL, "splunk: expected format scheme://dns_name_or_ip:port for splunk-url, "
                                  "got '%s'", url);
        if (!opt(opts, "splunk-token"))
                return error_setx(err, EINVAL, "splunk: splunk-token is expected");
        if ((r = check_one_of(opts, "splunk-format", formats, "inline, json or raw", err)) < 0 ||
            (r = check_bool(opts, "splunk-insecureskipverify", err)) < 0 ||
            (r = check_bool(opts, "splunk-verify-connection", err)) < 0 || (r = check_bool(opts, "splunk-gzip", err)) < 0)
                return r;
        if (opt(opts, "splunk-gzip-level")) {
                int64_t n;
                if (parse_int64(opt(opts, "splunk-gzip-level"), &n) < 0 || n < -1 || n > 9)
                        return error_setx(err, EINVAL, "log-opt splunk-gzip-level: invalid value '%s' (-1 to 9)",
                                          opt(opts, "splunk-gzip-level"));
        }
        return 0;
}

/*
 * json-file and local: rotation.  Docker's rules and messages (jsonfilelog.New, local.New), with
 * stockade's defaults in mind: an unset max-size is 10m for json-file (20m for local), not unlimited,
 * so only an explicit max-size=-1 turns rotation off.
 */
static int check_rotation(const char *type, json_t *opts, Error **err)
{
        int64_t size, files;
        int r;

        if ((r = check_size(opts, "max-size", true, &size, err)) < 0 ||
            (r = check_uint(opts, "max-file", 1, 1 << 20, &files, err)) < 0 || (r = check_bool(opts, "compress", err)) < 0)
                return r;
        if (!opt(opts, "max-size"))
                size = STREQ(type, "local") ? 20 << 20 : 10 << 20;
        if (STREQ(type, "local")) {
                /* docker's local driver: compress defaults to true, and rotation cannot be turned off */
                if (opt(opts, "max-size") && size <= 0)
                        return error_setx(err, EINVAL, "max size should be a positive number");
                if (files == 1 && (!opt(opts, "compress") || is_true(opt(opts, "compress"))))
                        return error_setx(err, EINVAL, "compression cannot be enabled when max file count is 1");
        }
        if (STREQ(type, "json-file") && files > 1 && size == -1)
                return error_setx(err, EINVAL, "max-file cannot be greater than 1 when max-size is not set");
        if (STREQ(type, "json-file") && is_true(opt(opts, "compress")) && (files < 2 || size == -1))
                return error_setx(err, EINVAL, "compress cannot be true when max-file is less than 2 or max-size is "
                                  "not set");
        return 0;
}

int log_config_validate(const char *type, json_t *opts, Error **err)
{
        const DriverSpec *d;
        const char *k, *mode;
        json_t *v;
        int r;

        if (!type || !*type)
                return 0; /* the daemon's default, filled in at create */
        d = find(type);
        if (!d)
                return error_setx(err, EINVAL, "failed to initialize logging driver: logger: no log driver named '%s' is "
                                  "registered (stockade has %s)", type, log_driver_names());
        json_object_foreach(opts, k, v) {
                bool known = STREQ(d->name, "none") ? false : STREQ(k, "mode") || STREQ(k, "max-buffer-size");
                for (size_t i = 0; d->keys[i] && !known; i++)
                        known = STREQ(d->keys[i], k);
                if (!known)
                        return error_setx(err, EINVAL, "unknown log opt '%s' for %s log driver", k, d->name);
                if (!json_is_string(v))
                        return error_setx(err, EINVAL, "log-opt %s: expected a string", k);
                if (strlen(json_string_value(v)) != json_string_length(v) || json_string_length(v) > 4096)
                        return error_setx(err, EINVAL, "log-opt %s: the value holds a NUL byte or is longer than 4096 "
                                          "bytes", k);
        }
        mode = opt(opts, "mode");
        if (mode && !STREQ(mode, "blocking") && !STREQ(mode, "non-blocking"))
                return error_setx(err, EINVAL, "logger: mode: invalid value '%s' (blocking or non-blocking)", mode);
        if (opt(opts, "max-buffer-size")) {
                if (!mode || !STREQ(mode, "non-blocking"))
                        return error_setx(err, EINVAL, "logger: max-buffer-size option is only supported with "
                                          "'mode=non-blocking'");
                if ((r = check_size(opts, "max-buffer-size", false, NULL, err)) < 0)
                        return r;
        }
        if (opt(opts, "tag")) {
                Template *t = NULL;
                Error *e = NULL;
                if (tmpl_parse(opt(opts, "tag"), &t, &e) < 0) {
                        r = error_setx(err, EINVAL, "log-opt tag: %s", e->msg);
                        error_free(e);
                        return r;
                }
                tmpl_free(t);
        }
        if ((r = check_regex(opts, "labels-regex", err)) < 0 || (r = check_regex(opts, "env-regex", err)) < 0)
                return r;
        if (STREQ(type, "json-file") || STREQ(type, "local"))
                return check_rotation(type, opts, err);
        if (STREQ(type, "syslog"))
                return check_syslog(opts, err);
        if (STREQ(type, "fluentd"))
                return check_fluentd(opts, err);
        if (STREQ(type, "splunk"))
                return check_splunk(opts, err);
        return 0;
}
