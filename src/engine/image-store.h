/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cleanup.h"
#include "error.h"

/*
 * The image store.  There is no registry: images come from rootfs tarballs (`import`), `docker save`
 * archives and OCI image layouts (`load`), and leave as `docker save` archives (`save`).
 *
 * Layout under <data-root>/image/ (everything 0700, root's):
 *   layers/sha256/<diffid-hex>/diff/       the layer, extracted once and used as it is as an overlayfs
 *                                          lower directory: a whiteout `.wh.NAME` is a 0:0 character
 *                                          device NAME, `.wh..wh..opq` the xattr trusted.overlay.opaque=y
 *   layers/sha256/<diffid-hex>/layer.tar   the uncompressed tar as it came (its sha256 is the diff_id),
 *                                          so `save` gives back the same digests
 *   layers/sha256/<diffid-hex>/size        the bytes of file content in the layer, decimal (`images`)
 *   configs/sha256/<id-hex>                the image config, byte for byte: the image id is its sha256
 *   repositories.json                      {"refs": {"busybox:latest": "sha256:<id-hex>", ...}}
 *   lock                                   flock'ed around every change of refs, configs or layers
 *   tmp/<op>-<random>/                     one staging directory per running operation, flock'ed by it
 *
 * A layer is shared by every image whose config lists its diff_id, and deleted with the last of them.
 * Everything new is built in the operation's staging directory and renamed into place under the lock,
 * layers first, then the config, then the refs, so a crash or an error leaves nothing half-made (a
 * staging directory nobody holds is removed by the next image_store_open()).  Readers take no lock:
 * every file they read is replaced by rename.
 *
 * Every byte of an archive is hostile.  Tars are unpacked in a forked child chroot'ed into the target
 * directory (as docker's chrootarchive), with libarchive's SECURE_* checks as a second line, paths
 * cleaned and bounded, hard link targets kept inside, only user.* and security.capability xattrs kept
 * (trusted.overlay.* would steer overlayfs), and no file flags (an immutable file could never be
 * deleted).  Blobs and layers are verified against their digests and diff_ids before anything of
 * theirs is extracted; archive members are opened with RESOLVE_IN_ROOT.
 *
 * Functions return 0 (or a count) on success and a negative errno on failure with *err set.
 */
typedef struct ImageStore ImageStore;

/* Opens (creating as needed) <data_root>/image.  Stale staging directories are removed. */
int image_store_open(const char *data_root, ImageStore **ret, Error **err);
/* Accepts NULL. */
void image_store_close(ImageStore *s);
DEFINE_CLEANUP_FUNC(ImageStore, image_store_close)

/*
 * Progress of a long operation: `what` ("Importing", "Loading", "Loading layer", "Extracting"), bytes
 * done of total (0 when unknown, as for a pipe).  Called from the calling thread only.
 */
typedef void (*image_progress_fn)(void *ud, const char *what, uint64_t done, uint64_t total);

typedef struct ImageImportOptions {
        const char *message;  /* docker import -m: the comment; NULL: "Imported from <source_name>" */
        char *const *changes; /* docker import --change: Dockerfile instructions (image-change.h), or NULL */
        const char *created;  /* RFC 3339 time for "created"; NULL: now.  Equal input, equal id. */
} ImageImportOptions;

/*
 * docker import: a rootfs tar (plain, gzip, bzip2, xz or zstd, detected) read from fd → a one-layer
 * image with docker import's config, tagged `ref` when not NULL.  source_name goes into the comment
 * ("-" for stdin).  *ret_id: "sha256:<hex>".
 */
int image_import(ImageStore *s, int fd, const char *ref, const char *source_name, image_progress_fn p,
                 void *ud, char **ret_id, Error **err);
int image_import_with(ImageStore *s, int fd, const char *ref, const char *source_name,
                      const ImageImportOptions *opts, image_progress_fn p, void *ud, char **ret_id,
                      Error **err);

/*
 * docker load, from fd (optionally compressed): a `docker save` archive (manifest.json, or the older
 * `repositories` with <v1-id>/json and layer.tar), or an OCI image layout (oci-layout, index.json,
 * blobs/sha256/...; nested indexes are resolved to this host's platform, attestations skipped; the tag
 * comes from io.containerd.image.name or org.opencontainers.image.ref.name when that is a full
 * reference).  Every config and blob is checked against its digest and every layer against its diff_id.
 * Each image is committed on its own: when a later one fails, the earlier ones stay.
 * *ret_loaded: a JSON array of the loaded refs ("busybox:latest"), or ids ("sha256:...") for images
 * loaded without a tag.
 */
int image_load(ImageStore *s, int fd, image_progress_fn p, void *ud, json_t **ret_loaded, Error **err);

/*
 * docker save: the images named by refs (NULL-terminated: names, name:tag, ids or id prefixes; a name
 * without a tag means all tags of that repository, as docker) written to fd as a docker save archive:
 * <diffid>/layer.tar..., <id>.json, manifest.json, repositories.  docker load and image_load give
 * back the same ids.  On failure part of the archive may have been written.
 */
int image_save(ImageStore *s, char *const *refs, int fd, Error **err);

/*
 * Resolves a ref as docker does: "sha256:<64 hex>" or 64 hex is an id; else the reference
 * ("busybox" is "busybox:latest", "docker.io/library/busybox" too); else a unique id prefix of at
 * least 4 hex digits, with or without "sha256:".  *ret_id: "sha256:<hex>"; *ret_config: the parsed
 * config (either may be NULL).  -ENOENT with "No such image: <ref>", -EINVAL for an invalid reference.
 */
int image_lookup(ImageStore *s, const char *ref, char **ret_id, json_t **ret_config, Error **err);

/*
 * The image's layer directories as absolute paths, top layer first: overlayfs's lowerdir order.
 * A layer listed twice keeps only its upper place (the lower one could add nothing).  An image
 * without layers gives an empty vector.
 */
int image_layer_dirs(ImageStore *s, const char *id, char ***ret, Error **err);

/* For `images`: [{"Id", "RepoTags" (sorted), "Created" (unix seconds), "Size" (bytes)}], newest first. */
int image_list(ImageStore *s, json_t **ret, Error **err);

/* docker tag: points ref (normalised; an existing tag moves) at the image src resolves to. */
int image_tag(ImageStore *s, const char *src, const char *ref, Error **err);

/*
 * docker rmi, with dockerd's rules: a reference is untagged, and the image deleted when that was its
 * last tag; an id (or id prefix) deletes the image with its tags when it has at most one tag, or with
 * force.  in_use_ids (image ids, "sha256:...") and in_use_containers (their containers' ids, a
 * parallel vector) list the images containers use: without force that is docker's conflict error
 * ("conflict: unable to remove repository reference \"busybox\" (must force) - container 1a2b3c4d5e6f
 * is using its referenced image 6e44bf3de655", "conflict: unable to delete 6e44bf3de655 (must be
 * forced) - image is being used by stopped container 1a2b3c4d5e6f"); with force the tags go but the
 * image and its layers stay while a container uses them (docker would delete the config and keep the
 * layers; ours are the container's lower directories).  Layers no image lists any more are deleted.
 * *ret: [{"Untagged": "busybox:latest"}, {"Deleted": "sha256:<id>"}, {"Deleted": "sha256:<chain id>"}...]
 * as the Engine API returns it (layers by chain id, top first).  -EBUSY for a conflict.
 */
int image_remove(ImageStore *s, const char *ref, bool force, char *const *in_use_ids,
                 char *const *in_use_containers, json_t **ret, Error **err);

/*
 * A reference in docker's familiar form, with ":latest" when it has no tag: "busybox" →
 * "busybox:latest", "docker.io/library/busybox:1" → "busybox:1", "index.docker.io/a/b" → "a/b:latest",
 * "reg.example:5000/a/b:t" unchanged.  docker's grammar: lower-case path components
 * [a-z0-9]+ joined by ".", "_", "__" or dashes, an optional host[:port]/ first, a tag
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digests are refused for now.  Errors (-EINVAL) as docker's:
 * "invalid reference format", "invalid reference format: repository name must be lowercase",
 * "repository name must not be more than 255 characters", "invalid repository name (...), cannot
 * specify 64-byte hexadecimal strings".
 */
int image_ref_normalize(const char *ref, char **ret, Error **err);

/*
 * The parsers load uses, exposed for the fuzzer.  Each validates everything the loader relies on and
 * names the JSON path of what it refuses.
 *
 * docker save's manifest.json → [{"Config": non-empty string, "RepoTags": [normalised refs] (always an
 * array), "Layers": [non-empty strings]}], at most 4096 images of at most 500 layers.
 */
int image_parse_docker_manifest(const char *text, size_t len, json_t **ret, Error **err);
/* The old docker save `repositories` → {"repo": {"tag": "<64 hex v1 id>"}}. */
int image_parse_legacy_repositories(const char *text, size_t len, json_t **ret, Error **err);
/*
 * An OCI index (index.json or a nested one, or docker's manifest list) → its descriptors: objects with
 * a sha256 "digest", and "mediaType" (string), "size" (integer >= 0), "annotations" (object of
 * strings), "platform" (object) each absent or of that type.
 */
int image_parse_oci_index(const char *text, size_t len, json_t **ret_descriptors, Error **err);
/* An OCI (or docker v2) image manifest → the manifest, its "config" and "layers" descriptors checked as
 * above. */
int image_parse_oci_manifest(const char *text, size_t len, json_t **ret, Error **err);
/*
 * An image config → the parsed config (an object; "config" an object when present) and its
 * rootfs.diff_ids as hex strings (a NULL-terminated vector; rootfs.type must be "layers").
 */
int image_parse_config(const char *text, size_t len, json_t **ret_config, char ***ret_diff_ids, Error **err);
/* An RFC 3339 time ("2024-01-02T03:04:05.123456789Z", "...+02:00") → unix seconds. -EINVAL if not one. */
int image_parse_created(const char *s, int64_t *ret);
/* "sha256:<64 lower-case hex>" → the hex part, or NULL. */
const char *image_digest_hex(const char *digest);
