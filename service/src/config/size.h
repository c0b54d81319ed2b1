/* size: the config file's size syntax ("512MiB", "2GiB", "100MB", or a bare
 * number of bytes), for the keys that bound how much something may take.
 *
 * Pure: no allocation, no state; callable from any thread. */
#ifndef SG_CONFIG_SIZE_H
#define SG_CONFIG_SIZE_H

#include <stdint.h>

/* Parses a size: digits, then nothing or B (bytes), KiB, MiB, GiB, TiB
 * (powers of 1024) or KB, MB, GB, TB (powers of 1000). Returns 0 or
 * SG_EINVAL (no digits, another unit, or more than INT64_MAX bytes). */
int sg_config_parse_size(const char *text, int64_t *out_bytes);

#endif
