/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What image-store.c shares with image-archive.c, and nothing else includes: the store's structure,
 * its limits and the helpers both halves use.  The public interface is image-store.h.
 */
#pragma once

#include <nettle/sha2.h>
#include <stdbool.h>

#include "image-store.h"

#define CHUNK        (256 * 1024)
#define JSON_MAX     (8u << 20)  /* manifest.json, index.json, manifests, configs, v1 json */
#define REFS_MAX     (16u << 20) /* repositories.json */
#define PINS_MAX     (16u << 20)
#define MAX_LAYERS   500  /* overlayfs stacks at most 500 lower layers */
#define MAX_IMAGES   4096 /* images in one archive */
#define MAX_INDEX    1024 /* descriptors in one index */
#define MAX_NESTING  4    /* indexes within indexes */
#define PATH_LEN_MAX 4095 /* an archive member's path, as the kernel's PATH_MAX */
/* A path deeper than this is refused: removing a layer holds one fd per level (rm_rf_at). */
#define PATH_DEPTH_MAX 256
#define STALE_SECONDS  60

#if defined(__x86_64__)
#define HOST_ARCH "amd64"
#elif defined(__aarch64__)
#define HOST_ARCH "arm64"
#elif defined(__arm__)
#define HOST_ARCH "arm"
#elif defined(__i386__)
#define HOST_ARCH "386"
#elif defined(__powerpc64__)
#define HOST_ARCH "ppc64le"
#elif defined(__s390x__)
#define HOST_ARCH "s390x"
#elif defined(__riscv)
#define HOST_ARCH "riscv64"
#else
#define HOST_ARCH "unknown"
#endif

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct ImageStore {
        char *root;     /* <data-root>/image, absolute */
        int dfd;        /* <root> */
        int layers_fd;  /* <root>/layers/sha256 */
        int configs_fd; /* <root>/configs/sha256 */
        int tmp_fd;     /* <root>/tmp */
        int lock_fd;    /* <root>/lock while held */
        unsigned lock_depth;
};

/* SHA-256 through nettle: small to load, which matters to every command that opens the store. */
typedef struct Hash {
        struct sha256_ctx ctx;
        bool open;
} Hash;

void istore_hash_init(Hash *h);
void istore_hash_update(Hash *h, const void *p, size_t n);
void istore_hash_final(Hash *h, char hex[65]);
void istore_sha256_hex(const void *p, size_t n, char hex[65]);

bool istore_is_hex(const char *s, size_t min, size_t max);
const char *istore_jstr(const json_t *j);
char *istore_printable(const char *s);
char *istore_random_name(const char *prefix);
int istore_open_dir_at(int dfd, const char *name, int *ret);
int istore_strcmp_p(const void *a, const void *b);
int istore_ref_parse(const char *s, char **ret_repo, char **ret_tag, Error **err);

int istore_lock(ImageStore *s, Error **err);
void istore_unlockp(ImageStore **s);
#define _cleanup_unlock_ _cleanup_(istore_unlockp)
int istore_refs_read(ImageStore *s, json_t **ret, Error **err);
int istore_refs_write(ImageStore *s, json_t *j, Error **err);
bool istore_layer_exists(ImageStore *s, const char *hex);
bool istore_config_exists(ImageStore *s, const char *hex);
int istore_resolve(ImageStore *s, const char *ref, char hex[65], bool *ret_by_name, Error **err);
