#include "base/err.h"

const char *sg_err_str(int err)
{
    switch (err) {
    case SG_OK: return "ok";
    case SG_ENOMEM: return "out of memory";
    case SG_EINVAL: return "invalid argument";
    case SG_EIO: return "i/o error";
    case SG_ENOTFOUND: return "not found";
    case SG_ESTATE: return "invalid state";
    case SG_ETIMEOUT: return "timed out";
    case SG_EFULL: return "full";
    case SG_ECONFIG: return "configuration rejected";
    case SG_EPROTO: return "protocol error";
    case SG_ESTOPPED: return "stopped";
    default: return "unknown error";
    }
}
