/* libFuzzer target for the config loader: arbitrary bytes as a YAML file.
 * Every input must either load or be rejected with at least one error line;
 * nothing may crash or leak. */
#include "config/config.h"
#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sg_log_set_level(SG_LOG_ERROR);
    sg_config_errors_t errs;
    sg_config_errors_init(&errs);
    sg_config_t *cfg = NULL;
    int rc = sg_config_load_string("fuzz.yaml", (const char *)data, size, &cfg, &errs);
    if (rc == SG_OK && (!cfg || errs.n != 0))
        abort(); /* a loaded config comes with no errors */
    if (rc != SG_OK && (cfg || errs.n == 0))
        abort(); /* a rejected one says why, and yields nothing */
    sg_config_destroy(&cfg);
    sg_config_errors_fini(&errs);
    return 0;
}
