/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replays every file of a corpus directory through LLVMFuzzerTestOneInput (systemd's fuzz-main idea). */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
        int n = 0;

        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                if (!d) {
                        fprintf(stderr, "cannot open corpus %s\n", argv[i]);
                        return 1;
                }
                while ((de = readdir(d))) {
                        char *buf = NULL;
                        size_t len = 0;
                        int dfd = dirfd(d);
                        if (de->d_name[0] == '.')
                                continue;
                        if (read_file_at(dfd, de->d_name, 16 << 20, &buf, &len) < 0) {
                                fprintf(stderr, "cannot read %s/%s\n", argv[i], de->d_name);
                                closedir(d);
                                return 1;
                        }
                        LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
                        free(buf);
                        n++;
                }
                closedir(d);
        }
        printf("replayed %d inputs\n", n);
        return n > 0 ? 0 : 1;
}
