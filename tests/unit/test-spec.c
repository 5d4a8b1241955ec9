/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <sys/resource.h>

#include "caps.h"
#include "spec.h"
#include "tap.h"
#include "util.h"

#define MINIMAL_HEAD "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
#define PROC(extra) "\"process\":{\"args\":[\"/init\"],\"cwd\":\"/\"" extra "}"

static char *parse_err(const char *text)
{
        OciSpec *s = NULL;
        Error *e = NULL;
        char *m;

        if (oci_spec_parse(text, strlen(text), "config.json", &s, &e) == 0) {
                oci_spec_free(s);
                return NULL;
        }
        m = xstrdup(e->msg);
        error_free(e);
        return m;
}

TEST(minimal)
{
        const char *t = MINIMAL_HEAD PROC("") "}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "config.json", &s, &e));
        ASSERT_STREQ(s->root_path, "rootfs");
        ASSERT_STREQ(s->process->args[0], "/init");
        ASSERT_EQ(s->process->caps.present, 0);
        oci_spec_free(s);
}

TEST(args_type_error_names_path)
{
        char *m = parse_err(MINIMAL_HEAD "\"process\":{\"args\":\"sh\",\"cwd\":\"/\"}}");
        ASSERT_STREQ(m, "process.args: expected an array of strings");
        free(m);
}

TEST(missing_required)
{
        char *m = parse_err("{\"root\":{\"path\":\"r\"}}");
        ASSERT_STREQ(m, "ociVersion: required field is missing");
        free(m);
        m = parse_err("{\"ociVersion\":\"1.0.0\"}");
        ASSERT_STREQ(m, "root: required field is missing");
        free(m);
        m = parse_err(MINIMAL_HEAD "\"process\":{\"args\":[\"x\"]}}");
        ASSERT_STREQ(m, "process.cwd: required field is missing");
        free(m);
}

TEST(bad_json_reports_position)
{
        char *m = parse_err("{\"ociVersion\": }");
        ASSERT_CONTAINS(m, "config.json: invalid JSON at line 1");
        free(m);
}

TEST(unknown_capability_refused)
{
        char *m = parse_err(MINIMAL_HEAD PROC(",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_NOPE\"]}") "}");
        ASSERT_STREQ(m, "process.capabilities.bounding[1]: unknown capability \"CAP_NOPE\"");
        free(m);
}

TEST(capabilities_masks)
{
        const char *t = MINIMAL_HEAD PROC(",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
                                          "\"effective\":[\"CAP_KILL\"]}") "}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "c", &s, &e));
        ASSERT_EQ(s->process->caps.bounding, (1ULL << 0) | (1ULL << 5));
        ASSERT_EQ(s->process->caps.effective, 1ULL << 5);
        ASSERT_EQ(s->process->caps.inheritable, 0);
        ASSERT_EQ(s->process->caps.ambient, 0);
        oci_spec_free(s);
}

TEST(rlimits)
{
        const char *t = MINIMAL_HEAD PROC(",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":2048},"
                                          "{\"type\":\"RLIMIT_CORE\",\"soft\":18446744073709551615,"
                                          "\"hard\":18446744073709551615}]") "}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "c", &s, &e));
        ASSERT_EQ(s->process->n_rlimits, 2);
        ASSERT_EQ(s->process->rlimits[0].resource, RLIMIT_NOFILE);
        ASSERT_EQ(s->process->rlimits[0].soft, 1024);
        ASSERT_TRUE(s->process->rlimits[1].hard == UINT64_MAX);
        oci_spec_free(s);
}

TEST(rlimit_soft_above_hard)
{
        char *m = parse_err(MINIMAL_HEAD PROC(",\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":4096,\"hard\":1024}]") "}");
        ASSERT_STREQ(m, "process.rlimits[0]: RLIMIT_NOFILE soft limit 4096 is above its hard limit 1024");
        free(m);
        m = parse_err(MINIMAL_HEAD PROC(",\"rlimits\":[{\"type\":\"RLIMIT_BOGUS\",\"soft\":1,\"hard\":1}]") "}");
        ASSERT_STREQ(m, "process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"");
        free(m);
}

TEST(oom_score_adj_range)
{
        char *m = parse_err(MINIMAL_HEAD PROC(",\"oomScoreAdj\":-1001") "}");
        ASSERT_STREQ(m, "process.oomScoreAdj: -1001 is outside -1000..1000");
        free(m);
}

TEST(namespaces)
{
        const char *t = MINIMAL_HEAD PROC("") ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},"
                        "{\"type\":\"network\",\"path\":\"/var/run/netns/x\"},{\"type\":\"mount\"}]}}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "c", &s, &e));
        ASSERT_TRUE(s->ns[NS_PID].enabled && !s->ns[NS_PID].path);
        ASSERT_STREQ(s->ns[NS_NETWORK].path, "/var/run/netns/x");
        ASSERT_TRUE(!s->ns[NS_USER].enabled);
        oci_spec_free(s);
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}}");
        ASSERT_STREQ(m, "linux.namespaces[1].type: namespace \"pid\" is listed twice");
        free(m);
        m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"namespaces\":[{\"type\":\"bogus\"}]}}");
        ASSERT_STREQ(m, "linux.namespaces[0].type: unknown namespace type \"bogus\"");
        free(m);
}

TEST(userns_needs_mappings)
{
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}");
        ASSERT_CONTAINS(m, "needs uidMappings and gidMappings");
        free(m);
        m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":0}]}}");
        ASSERT_STREQ(m, "linux.uidMappings[0].size: must be greater than 0");
        free(m);
}

TEST(mounts)
{
        const char *t = MINIMAL_HEAD PROC("") ",\"mounts\":[{\"destination\":\"/tmp\",\"type\":\"tmpfs\","
                        "\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"size=1m\"]}]}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "c", &s, &e));
        ASSERT_EQ(s->n_mounts, 1);
        ASSERT_STREQ(s->mounts[0].options[1], "size=1m");
        oci_spec_free(s);
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"mounts\":[{\"destination\":\"tmp\"}]}");
        ASSERT_STREQ(m, "mounts[0].destination: \"tmp\" must be an absolute path");
        free(m);
}

TEST(hooks)
{
        const char *t = MINIMAL_HEAD PROC("") ",\"hooks\":{\"prestart\":[{\"path\":\"/bin/true\",\"timeout\":5}],"
                        "\"poststop\":[{\"path\":\"/bin/false\",\"args\":[\"false\",\"x\"]}]}}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "c", &s, &e));
        ASSERT_EQ(s->n_hooks[HOOK_PRESTART], 1);
        ASSERT_EQ(s->hooks[HOOK_PRESTART][0].timeout, 5);
        ASSERT_STREQ(s->hooks[HOOK_POSTSTOP][0].args[1], "x");
        oci_spec_free(s);
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"hooks\":{\"prestart\":[{\"path\":\"/x\",\"timeout\":0}]}}");
        ASSERT_STREQ(m, "hooks.prestart[0].timeout: must be greater than zero");
        free(m);
}

TEST(sysctl_names_cannot_escape)
{
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"sysctl\":{\"../../etc/x\":\"1\"}}}");
        ASSERT_CONTAINS(m, "is not a valid sysctl name");
        free(m);
}

TEST(devices)
{
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"devices\":[{\"path\":\"/dev/x\",\"type\":\"q\"}]}}");
        ASSERT_STREQ(m, "linux.devices[0].type: \"q\" is not one of c, b, u, p");
        free(m);
}

TEST(hostname_needs_uts)
{
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"hostname\":\"h\"}");
        ASSERT_STREQ(m, "hostname: setting it needs a new uts namespace");
        free(m);
}

TEST(process_json_alone)
{
        json_t *j = json_loads("{\"args\":[\"ls\"],\"cwd\":\"/\",\"env\":[\"A=1\"],\"user\":{\"uid\":5,\"gid\":6,"
                               "\"additionalGids\":[7,8]}}", 0, NULL);
        OciProcess *p = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_process_parse(j, "process", &p, &e));
        ASSERT_EQ(p->user.uid, 5);
        ASSERT_EQ(p->user.n_additional_gids, 2);
        oci_process_free(p);
        json_decref(j);
        j = json_loads("{\"args\":[\"ls\"],\"cwd\":\"/\",\"env\":[\"NOEQUALS\"]}", 0, NULL);
        ASSERT_TRUE(oci_process_parse(j, "process", &p, &e) < 0);
        ASSERT_STREQ(e->msg, "process.env[0]: \"NOEQUALS\" is not of the form NAME=VALUE");
        error_free(e);
        json_decref(j);
}

TEST(caps_table)
{
        ASSERT_EQ(caps_from_name("CAP_SYS_ADMIN"), 21);
        ASSERT_EQ(caps_from_name("cap_chown"), 0);
        ASSERT_TRUE(caps_from_name("CAP_FOO") < 0);
        ASSERT_STREQ(caps_to_name(40), "CAP_CHECKPOINT_RESTORE");
}

TEST(scheduling_fields)
{
        const char *t = MINIMAL_HEAD PROC(",\"ioPriority\":{\"class\":\"IOPRIO_CLASS_BE\",\"priority\":4},"
                                          "\"scheduler\":{\"policy\":\"SCHED_BATCH\",\"nice\":5,"
                                          "\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\"]},"
                                          "\"execCPUAffinity\":{\"final\":\"0-1\"}") "}";
        OciSpec *s = NULL;
        Error *e = NULL;
        ASSERT_OK(oci_spec_parse(t, strlen(t), "c", &s, &e));
        ASSERT_EQ(s->process->io_class, 2);
        ASSERT_EQ(s->process->io_level, 4);
        ASSERT_EQ(s->process->sched_policy, 3);
        ASSERT_EQ(s->process->sched_flags, 1);
        ASSERT_STREQ(s->process->cpu_affinity_final, "0-1");
        oci_spec_free(s);
        char *m = parse_err(MINIMAL_HEAD PROC(",\"ioPriority\":{\"class\":\"IOPRIO_CLASS_X\"}") "}");
        ASSERT_STREQ(m, "process.ioPriority.class: \"IOPRIO_CLASS_X\" is not IOPRIO_CLASS_RT, _BE or _IDLE");
        free(m);
        m = parse_err(MINIMAL_HEAD PROC(",\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"nice\":40}") "}");
        ASSERT_STREQ(m, "process.scheduler.nice: 40 is outside -20..19");
        free(m);
}

TEST(personality)
{
        char *m = parse_err(MINIMAL_HEAD PROC("") ",\"linux\":{\"personality\":{\"domain\":\"LINUX64\"}}}");
        ASSERT_STREQ(m, "linux.personality.domain: \"LINUX64\" is not LINUX or LINUX32");
        free(m);
}
