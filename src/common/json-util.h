/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* jansson 2.14 provides json_decrefp() for its json_auto_t. */
#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

/*
 * Parses JSON text of at most `len` bytes.  Unlike plain jansson, integers above INT64_MAX (such as
 * 18446744073709551615, RLIM_INFINITY, which OCI configs carry in rlimits) are accepted: they are kept
 * as marked strings that the jx_uint64() getter understands.  `what` names the input in errors
 * ("config.json: line 3 column 5: ...").  Nesting deeper than 64 levels is refused.
 */
int jx_parse(const char *text, size_t len, const char *what, json_t **ret, Error **err);

/*
 * Getters that name the JSON path in their errors: "process.args: expected an array of strings".
 * `parent` is the path of `obj` ("process", "mounts[2]", or "" for the top level).
 * With required=false a missing key (or null) leaves *ret untouched and returns 0; the return is 1
 * when the key was present, 0 when absent, negative on a type error.
 */
int jx_string(json_t *obj, const char *parent, const char *key, bool required, char **ret, Error **err);
int jx_bool(json_t *obj, const char *parent, const char *key, bool required, bool *ret, Error **err);
int jx_int64(json_t *obj, const char *parent, const char *key, bool required, int64_t *ret, Error **err);
int jx_uint64(json_t *obj, const char *parent, const char *key, bool required, uint64_t *ret, Error **err);
int jx_uint32(json_t *obj, const char *parent, const char *key, bool required, uint32_t *ret, Error **err);
int jx_int32(json_t *obj, const char *parent, const char *key, bool required, int32_t *ret, Error **err);
/* An array of strings, returned as a NULL-terminated vector. */
int jx_strv(json_t *obj, const char *parent, const char *key, bool required, char ***ret, Error **err);
/* Borrowed references; *ret is NULL when absent. */
int jx_object(json_t *obj, const char *parent, const char *key, bool required, json_t **ret, Error **err);
int jx_array(json_t *obj, const char *parent, const char *key, bool required, json_t **ret, Error **err);

/* "parent.key", or "key" when parent is empty. Caller frees. */
char *jx_path(const char *parent, const char *key);
/* "parent[index]". Caller frees. */
char *jx_path_index(const char *parent, size_t index);

/* A JSON integer for any uint64: above INT64_MAX a marked string that jx_uint64() reads and jx_dump() writes as a bare number. */
json_t *jx_uint64_new(uint64_t v);

/* Serialises compactly (or indented) into a malloc'd string, big integers as bare numbers; aborts on OOM. */
char *jx_dump(const json_t *j, bool pretty);
/* A shallow copy of an object with its keys in byte order, as Go marshals a map (NULL or a non-object: {}). */
json_t *jx_sorted_copy(json_t *obj);
