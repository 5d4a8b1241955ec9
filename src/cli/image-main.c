/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stockade-image: the commands that read and write image archives.  `stockade import|load|save`
 * execute it with their whole command line; run directly, it takes the same arguments.
 */
#include "cli.h"
#include "util.h"

static const CliCommand commands[] = {
        { "import", cmd_import, "Import a root filesystem tarball as an image" },
        { "load", cmd_load, "Load images from a docker save archive or an OCI layout" },
        { "save", cmd_save, "Save images to a tar archive (docker save format)" },
};

int main(int argc, char **argv)
{
        return cli_main(argc, argv, commands, ELEMENTSOF(commands));
}
