/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/*
 * The OCI runtime-spec (1.0 to 1.2) configuration, parsed and validated into C.  Everything the
 * runtime acts on is checked here, with the JSON path in the error, before any namespace, mount or
 * cgroup exists.  Sections owned by later subsystems (linux.resources, linux.seccomp) stay as JSON
 * references into `json`, which the spec owns.
 */

typedef struct OciIdMap {
        uint32_t container_id, host_id, size;
} OciIdMap;

typedef struct OciRlimit {
        char *type;    /* "RLIMIT_NOFILE" */
        int resource;  /* RLIMIT_NOFILE */
        uint64_t soft, hard;
} OciRlimit;

typedef struct OciCaps {
        bool present;           /* process.capabilities was given */
        uint64_t bounding, effective, inheritable, permitted, ambient;
} OciCaps;

typedef struct OciUser {
        uint32_t uid, gid;
        bool has_umask;
        uint32_t umask;
        uint32_t *additional_gids;
        size_t n_additional_gids;
} OciUser;

typedef struct OciProcess {
        bool terminal;
        uint32_t console_height, console_width;
        OciUser user;
        char **args;
        char **env;
        char *cwd;
        OciCaps caps;
        OciRlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        bool has_oom_score_adj;
        int oom_score_adj;
        char *apparmor_profile;
        char *selinux_label;
        bool has_io_priority;
        int io_class;           /* IOPRIO_CLASS_RT/BE/IDLE (1..3) */
        int io_level;           /* 0..7 */
        bool has_scheduler;
        uint32_t sched_policy;  /* SCHED_OTHER ... SCHED_DEADLINE */
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_flags, sched_runtime, sched_deadline, sched_period;
        char *cpu_affinity_final; /* execCPUAffinity.final, a cpu list like "0-1,3" */
} OciProcess;

typedef struct OciMount {
        char *destination;
        char *type;      /* may be NULL: a bind mount when options say so */
        char *source;
        char **options;
        OciIdMap *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
} OciMount;

typedef struct OciHook {
        char *path;
        char **args;
        char **env;
        int timeout;     /* seconds, 0 = none */
} OciHook;

typedef enum OciHookKind {
        HOOK_PRESTART,
        HOOK_CREATE_RUNTIME,
        HOOK_CREATE_CONTAINER,
        HOOK_START_CONTAINER,
        HOOK_POSTSTART,
        HOOK_POSTSTOP,
        _HOOK_MAX,
} OciHookKind;

typedef enum NsType {
        NS_PID,
        NS_NETWORK,
        NS_MOUNT,
        NS_IPC,
        NS_UTS,
        NS_USER,
        NS_CGROUP,
        NS_TIME,
        _NS_MAX,
} NsType;

typedef struct OciNamespace {
        bool enabled;   /* listed in linux.namespaces */
        char *path;     /* join this one instead of creating it */
} OciNamespace;

typedef struct OciDevice {
        char *path;
        char type;      /* 'c', 'b', 'p' ('u' is taken as 'c') */
        int64_t major, minor;
        bool has_mode, has_uid, has_gid;
        uint32_t mode, uid, gid;
} OciDevice;

typedef struct OciSysctl {
        char *key, *value;
} OciSysctl;

typedef struct OciTimeOffset {
        char *clock;    /* "monotonic" or "boottime" */
        int64_t secs;
        uint32_t nanosecs;
} OciTimeOffset;

typedef struct OciSpec {
        json_t *json;   /* the whole document (owned) */
        char *oci_version;
        char *root_path;        /* as written; relative to the bundle */
        bool root_readonly;
        char *hostname, *domainname;
        OciProcess *process;    /* NULL when absent */
        OciMount *mounts;
        size_t n_mounts;
        OciHook *hooks[_HOOK_MAX];
        size_t n_hooks[_HOOK_MAX];
        json_t *annotations;    /* borrowed from json, may be NULL */

        /* linux */
        OciNamespace ns[_NS_MAX];
        OciIdMap *uid_mappings, *gid_mappings;
        size_t n_uid_mappings, n_gid_mappings;
        OciDevice *devices;
        size_t n_devices;
        char *cgroups_path;
        json_t *resources;      /* borrowed; the cgroup subsystem parses it */
        json_t *seccomp;        /* borrowed; the seccomp subsystem parses it */
        char *rootfs_propagation;
        char **masked_paths;
        char **readonly_paths;
        OciSysctl *sysctls;
        size_t n_sysctls;
        char *mount_label;
        OciTimeOffset *time_offsets;
        size_t n_time_offsets;
        bool has_personality;
        unsigned long personality;      /* linux.personality: PER_LINUX or PER_LINUX32, plus flags */
} OciSpec;

extern const char *const ns_type_names[_NS_MAX];      /* OCI names: "pid", "network", ... */
extern const char *const ns_proc_names[_NS_MAX];      /* /proc/PID/ns names: "pid", "net", ... */
extern const int ns_clone_flags[_NS_MAX];
extern const char *const hook_kind_names[_HOOK_MAX];  /* "prestart", "createRuntime", ... */

/* Parses and validates config.json text. `what` names it in errors. */
int oci_spec_parse(const char *text, size_t len, const char *what, OciSpec **ret, Error **err);
int oci_spec_load(const char *path, OciSpec **ret, Error **err);
OciSpec *oci_spec_free(OciSpec *s);

/* Parses a process object, as found in config.json or given to `exec --process`. */
int oci_process_parse(json_t *j, const char *path, OciProcess **ret, Error **err);
OciProcess *oci_process_free(OciProcess *p);

/* Maps "RLIMIT_NOFILE" to RLIMIT_NOFILE; -EINVAL when unknown. */
int rlimit_from_name(const char *name);

