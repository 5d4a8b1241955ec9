/* SPDX-License-Identifier: GPL-2.0-or-later */
/* linux.resources.devices: the JSON array is parsed, then compiled to the v2 eBPF program and the
 * v1 rule text; every jump of the program must land inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "json-util.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ DevRule *rules = NULL;
        _cleanup_free_ struct bpf_insn *prog = NULL;
        size_t n = 0, ninsn = 0;
        Error *e = NULL;
        char buf[96];

        if (size > 1 << 20)
                return 0;
        if (jx_parse((const char *)data, size, "fuzz", &j, &e) == 0 && devices_parse(j, &rules, &n, &e) == 0) {
                for (size_t i = 0; i < n; i++)
                        devices_rule_v1(&rules[i], buf, sizeof(buf));
                if (devices_bpf_build(rules, n, &prog, &ninsn, &e) == 0)
                        for (size_t i = 0; i < ninsn; i++)
                                if ((prog[i].code & 0x07) == BPF_JMP && (prog[i].code & 0xf0) != BPF_EXIT &&
                                    (prog[i].off < 0 || i + 1 + (size_t)prog[i].off >= ninsn))
                                        abort();
        }
        error_free(e);
        return 0;
}
