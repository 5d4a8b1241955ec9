/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cleanup.h"
#include "error.h"

/*
 * The image store, without a registry: images come from rootfs tarballs (`import`), `docker save`
 * archives and OCI image layouts (`load`), and leave as `docker save` archives (`save`).
 *
 * Layout under <data-root>/image/:
 *   layers/<diffid-hex>/diff/       the layer, extracted once: an overlayfs lower directory
 *                                   (whiteouts `.wh.NAME` become 0:0 character devices, `.wh..wh..opq`
 *                                   the trusted.overlay.opaque xattr)
 *   layers/<diffid-hex>/layer.tar   the uncompressed tar as it came, so `save` gives the same digests
 *   configs/<id-hex>                the image config, byte for byte; the image id is its sha256
 *   repositories.json               {"refs": {"busybox:latest": "sha256:<id-hex>", ...}}
 *   tmp/                            staging: everything is built here and renamed into place
 * Every archive byte is hostile: paths are extracted relative to the staging directory with
 * libarchive's secure flags (no "..", no absolute paths, nothing through a symlink), files of a loaded
 * archive are opened with RESOLVE_IN_ROOT, and every blob and layer is checked against its digest.
 * repositories.json is rewritten atomically (write, fsync, rename) under a flock.
 */
typedef struct ImageStore ImageStore;

int image_store_open(const char *data_root, ImageStore **ret, Error **err);
void image_store_close(ImageStore *s);
DEFINE_CLEANUP_FUNC(ImageStore, image_store_close)

/* Progress of a long operation: bytes done of total (0 when unknown). */
typedef void (*image_progress_fn)(void *ud, const char *what, uint64_t done, uint64_t total);

/* docker import: a rootfs tar (plain, gzip, xz, zstd, bzip2) → a one-layer image, tagged `ref` if given. */
int image_import(ImageStore *s, int fd, const char *ref, const char *source_name, image_progress_fn p, void *ud,
                 char **ret_id, Error **err);
/* docker load: a docker save archive or an OCI image layout (as a tar).  *ret_loaded: refs, or ids of untagged images. */
int image_load(ImageStore *s, int fd, image_progress_fn p, void *ud, json_t **ret_loaded, Error **err);
/* docker save: the images named by refs (or ids) as a docker save archive written to fd. */
int image_save(ImageStore *s, char *const *refs, int fd, Error **err);
/* A ref, a full id ("sha256:..." or bare hex) or a unique id prefix → "sha256:<hex>" and the parsed config. */
int image_lookup(ImageStore *s, const char *ref, char **ret_id, json_t **ret_config, Error **err);
/* The image's layer directories, top layer first (overlayfs lowerdir order). */
int image_layer_dirs(ImageStore *s, const char *id, char ***ret, Error **err);
/* [{"Id", "RepoTags", "Created" (unix seconds), "Size"}], newest first. */
int image_list(ImageStore *s, json_t **ret, Error **err);
int image_tag(ImageStore *s, const char *src, const char *ref, Error **err);
/*
 * docker rmi: by ref, untags, and deletes the image when no tag is left; by id, deletes (with several
 * tags only when forced).  Images whose ids are in in_use_ids (containers in in_use_containers, a
 * parallel vector) are never deleted: without force that is docker's conflict error, with force the
 * tags go and the image stays.  *ret: [{"Untagged": ref}, {"Deleted": id}].
 */
int image_remove(ImageStore *s, const char *ref, bool force, char *const *in_use_ids, char *const *in_use_containers,
                 json_t **ret, Error **err);

/* "busybox" → "busybox:latest"; docker's reference rules; errors as docker's ("invalid reference format..."). */
int image_ref_normalize(const char *ref, char **ret, Error **err);

/* Parsers used by load (exposed for the fuzzer): a docker save manifest.json, an OCI index or manifest. */
int image_parse_docker_manifest(const char *text, size_t len, json_t **ret, Error **err);
int image_parse_oci_index(const char *text, size_t len, json_t **ret_descriptors, Error **err);
int image_parse_oci_manifest(const char *text, size_t len, char **ret_config_digest, char ***ret_layer_digests, Error **err);
/* "sha256:<64 hex>" → the hex part, or NULL. */
const char *image_digest_hex(const char *digest);
