/*
 * replay.h - shared declarations of the scenario interpreter (replay.c) and
 * the scenario runner (runner.c). See README.md for the scenario format.
 */
#ifndef HARNESS_REPLAY_H
#define HARNESS_REPLAY_H

#include <stdint.h>

/* runner.c: `replay --run ...`; returns the process exit status */
int runner_main(int argc, char **argv, const char *self);

/* monotonic seconds */
double now_s(void);

#endif
