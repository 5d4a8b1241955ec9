/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>

#include "signals.h"
#include "tap.h"

TEST(names_and_numbers)
{
        ASSERT_EQ(signal_from_string("KILL"), SIGKILL);
        ASSERT_EQ(signal_from_string("SIGTERM"), SIGTERM);
        ASSERT_EQ(signal_from_string("term"), SIGTERM);
        ASSERT_EQ(signal_from_string("9"), 9);
        ASSERT_EQ(signal_from_string("SIGRTMIN+2"), SIGRTMIN + 2);
        ASSERT_EQ(signal_from_string("RTMAX-1"), SIGRTMAX - 1);
}

TEST(bad_signals)
{
        ASSERT_TRUE(signal_from_string("0") < 0);
        ASSERT_TRUE(signal_from_string("65") < 0);
        ASSERT_TRUE(signal_from_string("SIGFOO") < 0);
        ASSERT_TRUE(signal_from_string("") < 0);
        ASSERT_TRUE(signal_from_string("RTMIN+99") < 0);
}
