/* SPDX-License-Identifier: GPL-2.0-or-later */
/* docker run flags into Config/HostConfig, dockerd's checks, and the OCI spec generated from them. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "json-util.h"
#include "runopts.h"
#include "specgen.h"
#include "tap.h"
#include "util.h"

/* Parses a space-separated command line (no quoting) after "run". */
static int parse(const char *line, RunOpts *o, Error **err)
{
        _cleanup_free_ char *copy = xasprintf("run %s", line);
        char *argv[64];
        int argc = 0, idx = 1;
        char *save = NULL;

        for (char *t = strtok_r(copy, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
                argv[argc++] = t;
        argv[argc] = NULL;
        int r = runopts_parse(true, argc, argv, &idx, o, err);
        /* The strings in o are copies; nothing points into `copy`. */
        return r;
}

static Engine *test_engine(void)
{
        Engine *e = xcalloc(1, sizeof(*e));
        e->data_root = xstrdup("/nonexistent-data");
        e->exec_root = xstrdup("/nonexistent-run");
        e->config_file = xstrdup("daemon.json");
        e->daemon = json_object();
        e->self_dir = xstrdup("/usr/bin");
        return e;
}

static const char *host_str(RunOpts *o, const char *k)
{
        return json_string_value(json_object_get(o->host, k));
}

static long long host_int(RunOpts *o, const char *k)
{
        return (long long)json_integer_value(json_object_get(o->host, k));
}

TEST(grouped_short_flags_and_image)
{
        RunOpts o;
        Error *err = NULL;
        ASSERT_OK(parse("-dit --name=web -e A=1 -eB=2 busybox sh -c ls -la", &o, &err));
        ASSERT_TRUE(o.detach);
        ASSERT_TRUE(json_is_true(json_object_get(o.config, "Tty")));
        ASSERT_TRUE(json_is_true(json_object_get(o.config, "OpenStdin")));
        ASSERT_TRUE(STREQ(o.name, "web"));
        ASSERT_TRUE(STREQ(json_string_value(json_object_get(o.config, "Image")), "busybox"));
        ASSERT_EQ(json_array_size(json_object_get(o.config, "Cmd")), 4);
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(json_object_get(o.config, "Cmd"), 3)), "-la"));
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(json_object_get(o.config, "Env"), 1)), "B=2"));
        runopts_free(&o);
}

TEST(memory_bad_size_message)
{
        RunOpts o;
        Error *err = NULL;
        ASSERT_TRUE(parse("--memory=12q busybox", &o, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "invalid argument \"12q\" for \"-m, --memory\" flag: invalid size: '12q'") != NULL);
        error_free(err);
}

TEST(sizes_and_cpus)
{
        RunOpts o;
        Error *err = NULL;
        ASSERT_OK(parse("-m 512m --memory-swap=1g --memory-reservation 256m --cpus 1.5 --cpu-shares=512 "
                        "--cpuset-cpus=0,1 --pids-limit=100 busybox",
                        &o, &err));
        ASSERT_EQ(host_int(&o, "Memory"), 536870912LL);
        ASSERT_EQ(host_int(&o, "MemorySwap"), 1073741824LL);
        ASSERT_EQ(host_int(&o, "MemoryReservation"), 268435456LL);
        ASSERT_EQ(host_int(&o, "NanoCpus"), 1500000000LL);
        ASSERT_EQ(host_int(&o, "CpuShares"), 512);
        ASSERT_TRUE(STREQ(host_str(&o, "CpusetCpus"), "0,1"));
        ASSERT_EQ(host_int(&o, "PidsLimit"), 100);
        runopts_free(&o);
        ASSERT_OK(parse("--memory-swap=-1 -m 64m busybox", &o, &err));
        ASSERT_EQ(host_int(&o, "MemorySwap"), -1);
        runopts_free(&o);
}

TEST(nanocpus_exact)
{
        int64_t n;
        ASSERT_OK(nanocpus_parse("0.01", &n, NULL));
        ASSERT_EQ(n, 10000000);
        ASSERT_OK(nanocpus_parse("2", &n, NULL));
        ASSERT_EQ(n, 2000000000LL);
        ASSERT_OK(nanocpus_parse("-1", &n, NULL));
        ASSERT_EQ(n, -1000000000LL);
        ASSERT_TRUE(nanocpus_parse("1.5x", &n, NULL) < 0);
        ASSERT_TRUE(nanocpus_parse("", &n, NULL) < 0);
        ASSERT_TRUE(nanocpus_parse("99999999999", &n, NULL) < 0);
}

TEST(ulimits)
{
        json_t *u = NULL;
        Error *err = NULL;
        ASSERT_OK(ulimit_parse("nofile=1024:2048", &u, NULL));
        ASSERT_EQ(json_integer_value(json_object_get(u, "Soft")), 1024);
        ASSERT_EQ(json_integer_value(json_object_get(u, "Hard")), 2048);
        json_decref(u);
        ASSERT_OK(ulimit_parse("nproc=64", &u, NULL));
        ASSERT_EQ(json_integer_value(json_object_get(u, "Hard")), 64);
        json_decref(u);
        ASSERT_TRUE(ulimit_parse("nofile=2048:1024", &u, &err) < 0);
        ASSERT_TRUE(STREQ(err->msg, "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"));
        error_clear(&err);
        ASSERT_TRUE(ulimit_parse("bogus=1", &u, &err) < 0);
        ASSERT_TRUE(STREQ(err->msg, "invalid ulimit type: bogus"));
        error_clear(&err);
        ASSERT_TRUE(ulimit_parse("nofile", &u, &err) < 0);
        error_clear(&err);
        ASSERT_OK(ulimit_parse("core=1024:-1", &u, NULL));
        json_decref(u);
}

TEST(restart_policies)
{
        json_t *p = NULL;
        Error *err = NULL;
        ASSERT_OK(restart_policy_parse("on-failure:3", &p, NULL));
        ASSERT_TRUE(STREQ(json_string_value(json_object_get(p, "Name")), "on-failure"));
        ASSERT_EQ(json_integer_value(json_object_get(p, "MaximumRetryCount")), 3);
        json_decref(p);
        ASSERT_OK(restart_policy_parse("unless-stopped", &p, NULL));
        json_decref(p);
        ASSERT_TRUE(restart_policy_parse("always:3", &p, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "maximum retry count cannot be used with restart policy 'always'") != NULL);
        error_clear(&err);
        ASSERT_TRUE(restart_policy_parse("sometimes", &p, &err) < 0);
        error_clear(&err);
}

TEST(rm_and_restart_conflict)
{
        RunOpts o;
        Error *err = NULL;
        ASSERT_TRUE(parse("--rm --restart=always busybox", &o, &err) < 0);
        ASSERT_TRUE(STREQ(err->msg, "Conflicting options: --restart and --rm"));
        error_free(err);
}

TEST(security_opts_verbatim_and_validated)
{
        _cleanup_(engine_freep) Engine *e = test_engine();
        RunOpts o;
        Error *err = NULL;
        char **warnings = NULL;

        ASSERT_OK(parse("--security-opt no-new-privileges:true --security-opt seccomp=unconfined busybox", &o, &err));
        json_t *so = json_object_get(o.host, "SecurityOpt");
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(so, 0)), "no-new-privileges:true"));
        ASSERT_OK(hostconfig_validate(e, o.config, o.host, &warnings, &err));
        ASSERT_TRUE(warnings && strstr(warnings[0], "deprecated"));
        strv_free(warnings);
        warnings = NULL;
        runopts_free(&o);

        ASSERT_OK(parse("--security-opt foo=bar busybox", &o, &err));
        ASSERT_TRUE(hostconfig_validate(e, o.config, o.host, &warnings, &err) < 0);
        ASSERT_TRUE(STREQ(err->msg, "invalid --security-opt 1: \"foo=bar\""));
        error_clear(&err);
        runopts_free(&o);

        ASSERT_TRUE(parse("--security-opt seccomp=/nonexistent.json busybox", &o, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "opening seccomp profile (/nonexistent.json) failed") != NULL);
        error_clear(&err);
}

TEST(seccomp_file_inlined_compact)
{
        char path[] = "/tmp/test-runopts-XXXXXX";
        int fd = mkstemp(path);
        RunOpts o;
        Error *err = NULL;
        _cleanup_free_ char *line = NULL;
        const char *profile = "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": []\n}\n";

        ASSERT_TRUE(fd >= 0);
        ASSERT_OK(write_all(fd, profile, strlen(profile)));
        close(fd);
        line = xasprintf("--security-opt seccomp=%s busybox", path);
        ASSERT_OK(parse(line, &o, &err));
        unlink(path);
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(json_object_get(o.host, "SecurityOpt"), 0)),
                          "seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[]}"));
        runopts_free(&o);
}

TEST(validate_resources)
{
        _cleanup_(engine_freep) Engine *e = test_engine();
        static const struct {
                const char *line, *msg;
        } cases[] = {
                { "--cpus=-1 busybox", "Range of CPUs is from 0.01 to" },
                { "--memory=1m busybox", "Minimum memory limit allowed is 6MB" },
                { "--memory-swap=1g busybox", "You should always set the Memory limit when using Memoryswap limit" },
                { "-m 1g --memory-swap=512m busybox", "Minimum memoryswap limit should be larger than memory limit" },
                { "-m 64m --memory-reservation=128m busybox", "Minimum memory limit can not be less than memory reservation" },
                { "--cpus=1 --cpu-quota=50000 busybox", "Conflicting options: Nano CPUs and CPU Period cannot both be set" },
                { "--oom-score-adj=2000 busybox", "range for oom score adj is [-1000, 1000]" },
                { "--cap-add=FOO busybox", "unknown capability: \"FOO\"" },
                { "--log-opt max-size=bogus busybox", "invalid size: 'bogus'" },
                { "--log-opt foo=bar busybox", "unknown log opt 'foo' for json-file log driver" },
                { "--log-driver=gelf busybox", "no log driver named 'gelf'" },
                { "--log-driver=syslog --log-opt syslog-facility=bogus busybox", "invalid syslog facility 'bogus'" },
                { "--network=bridge busybox", "no bridge networking yet" },
                { "-w relative busybox", "needs to be an absolute path" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                RunOpts o;
                Error *err = NULL;
                char **w = NULL;
                ASSERT_OK(parse(cases[i].line, &o, &err));
                json_object_set_new(json_object_get(o.host, "LogConfig"), "Type",
                                    json_string(json_string_value(json_object_get(json_object_get(o.host, "LogConfig"), "Type"))[0]
                                                        ? json_string_value(json_object_get(json_object_get(o.host, "LogConfig"), "Type"))
                                                        : "json-file"));
                int r = hostconfig_validate(e, o.config, o.host, &w, &err);
                if (r >= 0 || !strstr(err->msg, cases[i].msg)) {
                        printf("# %s: %s\n", cases[i].line, err ? err->msg : "accepted");
                        TAP_FAIL("case %zu", i);
                }
                error_free(err);
                strv_free(w);
                runopts_free(&o);
        }
}

TEST(caps_defaults_drop_add)
{
        json_t *h = json_object(), *caps = NULL;
        ASSERT_OK(specgen_caps(h, &caps, NULL));
        ASSERT_EQ(json_array_size(caps), 14);
        json_decref(caps);
        json_object_set_new(h, "CapDrop", json_pack("[s]", "ALL"));
        json_object_set_new(h, "CapAdd", json_pack("[s]", "NET_BIND_SERVICE"));
        ASSERT_OK(specgen_caps(h, &caps, NULL));
        ASSERT_EQ(json_array_size(caps), 1);
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(caps, 0)), "CAP_NET_BIND_SERVICE"));
        json_decref(caps);
        json_object_set_new(h, "CapDrop", json_pack("[s]", "net_raw"));
        json_object_set_new(h, "CapAdd", json_pack("[s]", "CAP_SYS_PTRACE"));
        ASSERT_OK(specgen_caps(h, &caps, NULL));
        ASSERT_EQ(json_array_size(caps), 14);
        json_decref(caps);
        json_decref(h);
}

TEST(env_merge)
{
        json_t *cfg = json_pack("{s:s, s:b, s:[ss]}", "Hostname", "abc", "Tty", 1, "Env", "PATH=/x", "A=1");
        json_t *env = specgen_env(cfg);
        ASSERT_EQ(json_array_size(env), 4);
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(env, 0)), "PATH=/x"));
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(env, 1)), "HOSTNAME=abc"));
        ASSERT_TRUE(STREQ(json_string_value(json_array_get(env, 2)), "TERM=xterm"));
        json_decref(env);
        json_decref(cfg);
}

static char *make_rootfs(void)
{
        char *dir = xstrdup("/tmp/test-runopts-root-XXXXXX");
        if (!mkdtemp(dir))
                abort();
        _cleanup_free_ char *etc = xasprintf("%s/etc", dir);
        mkdir(etc, 0755);
        _cleanup_close_ int d = open(etc, O_DIRECTORY | O_RDONLY);
        const char *pw = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n";
        const char *gr = "root:x:0:\nuser:x:1000:\naudio:x:29:user\nstaff:x:50:\n";
        (void)write_file_atomic(d, "passwd", pw, strlen(pw), 0644, false);
        (void)write_file_atomic(d, "group", gr, strlen(gr), 0644, false);
        return dir;
}

TEST(user_resolution)
{
        _cleanup_free_ char *root = make_rootfs();
        json_t *u = NULL;
        Error *err = NULL;

        ASSERT_OK(specgen_user(root, "user", NULL, &u, NULL));
        ASSERT_EQ(json_integer_value(json_object_get(u, "uid")), 1000);
        ASSERT_EQ(json_integer_value(json_object_get(u, "gid")), 1000);
        ASSERT_EQ(json_array_size(json_object_get(u, "additionalGids")), 2);    /* 1000 and audio (29) */
        json_decref(u);
        ASSERT_OK(specgen_user(root, "1001:1001", NULL, &u, NULL));
        ASSERT_EQ(json_integer_value(json_object_get(u, "uid")), 1001);
        ASSERT_EQ(json_integer_value(json_object_get(u, "gid")), 1001);
        json_decref(u);
        json_t *ga = json_pack("[s]", "staff");
        ASSERT_OK(specgen_user(root, "", ga, &u, NULL));
        ASSERT_EQ(json_integer_value(json_object_get(u, "uid")), 0);
        ASSERT_EQ(json_integer_value(json_array_get(json_object_get(u, "additionalGids"), 1)), 50);
        json_decref(u);
        json_decref(ga);
        ASSERT_TRUE(specgen_user(root, "ghost", NULL, &u, &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "unable to find user ghost") != NULL);
        error_clear(&err);
        /* A hostile image: /etc/passwd as a symlink out of the rootfs is read inside it (or not at all). */
        _cleanup_free_ char *pw = xasprintf("%s/etc/passwd", root);
        unlink(pw);
        ASSERT_OK(symlink("/etc/shadow", pw));
        ASSERT_TRUE(specgen_user(root, "root", NULL, &u, &err) < 0);
        error_clear(&err);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", root);
        ASSERT_OK(system(cmd));
}

TEST(spec_from_record)
{
        _cleanup_(engine_freep) Engine *e = test_engine();
        _cleanup_free_ char *root = make_rootfs();
        RunOpts o;
        Error *err = NULL;
        json_t *spec = NULL;

        ASSERT_OK(parse("--cpus=1.5 -m 512m --pids-limit=20 --read-only --tmpfs /tmp:rw,noexec,nosuid,size=10m "
                        "--ulimit nofile=1024:2048 --cap-drop ALL --security-opt no-new-privileges busybox true",
                        &o, &err));
        json_t *rec = json_pack("{s:s, s:O, s:O}", "Id", "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef",
                                "Config", o.config, "HostConfig", o.host);
        json_object_set_new(json_object_get(rec, "Config"), "Cmd", json_pack("[s]", "true"));
        SpecInput in = { .record = rec, .rootfs = root, .container_dir = "/c", .netns_path = "/run/ns" };
        if (specgen(e, &in, &spec, &err) < 0)
                TAP_FAIL("specgen: %s", err->msg);
        json_t *res = json_object_get(json_object_get(spec, "linux"), "resources");
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")), 150000);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(res, "cpu"), "period")), 100000);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")), 536870912LL);
        /* --memory without --memory-swap: Docker's memory+swap of twice the memory */
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(res, "memory"), "swap")), 1073741824LL);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")), 20);
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(spec, "root"), "readonly")));
        ASSERT_TRUE(json_is_true(json_object_get(json_object_get(spec, "process"), "noNewPrivileges")));
        ASSERT_EQ(json_array_size(json_object_get(json_object_get(json_object_get(spec, "process"), "capabilities"), "bounding")), 0);
        ASSERT_TRUE(json_object_get(json_object_get(spec, "linux"), "seccomp") != NULL);
        ASSERT_TRUE(json_object_get(json_object_get(json_object_get(spec, "linux"), "seccomp"), "archMap") == NULL);
        {
                size_t i;
                json_t *m, *tmp = NULL;
                json_array_foreach(json_object_get(spec, "mounts"), i, m) if (STREQ(json_string_value(json_object_get(m, "destination")), "/tmp"))
                        tmp = m;
                ASSERT_TRUE(tmp != NULL);
                _cleanup_free_ char *opts = jx_dump(json_object_get(tmp, "options"), false);
                ASSERT_TRUE(STREQ(opts, "[\"nodev\",\"rprivate\",\"noexec\",\"nosuid\",\"size=10m\"]"));
        }
        {
                json_t *rl = json_array_get(json_object_get(json_object_get(spec, "process"), "rlimits"), 0);
                ASSERT_TRUE(STREQ(json_string_value(json_object_get(rl, "type")), "RLIMIT_NOFILE"));
                ASSERT_EQ(json_integer_value(json_object_get(rl, "soft")), 1024);
        }
        json_decref(spec);
        json_decref(rec);
        runopts_free(&o);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", root);
        ASSERT_OK(system(cmd));
}

TEST(daemon_config_validation)
{
        Error *err = NULL;
        json_t *j = json_pack("{s:s}", "log-driver", "json-file");
        ASSERT_OK(daemon_config_validate(j, "daemon.json", &err));
        json_object_set_new(j, "bogus", json_true());
        ASSERT_TRUE(daemon_config_validate(j, "daemon.json", &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "unknown key \"bogus\"") != NULL);
        error_clear(&err);
        json_object_del(j, "bogus");
        json_object_set_new(j, "log-opts", json_pack("{s:i}", "max-file", 3));
        ASSERT_TRUE(daemon_config_validate(j, "daemon.json", &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "log-opts.max-file") != NULL);
        error_clear(&err);
        json_object_set_new(j, "log-opts", json_object());
        json_object_set_new(j, "default-ulimits", json_pack("{s:{s:s, s:i, s:i}}", "nofile", "Name", "nofile", "Hard", 10, "Soft", 20));
        ASSERT_TRUE(daemon_config_validate(j, "daemon.json", &err) < 0);
        ASSERT_TRUE(strstr(err->msg, "default-ulimits.nofile") != NULL);
        error_clear(&err);
        json_decref(j);
}
