/* err: the error codes shared by every siteguard module.
 *
 * Functions return 0 on success and a negative sg_err_t on failure; other
 * libraries' conventions are converted where they are called. A leaf: it
 * depends on nothing. Thread rules: none (constant texts). */
#ifndef SG_ERR_H
#define SG_ERR_H

typedef enum {
    SG_OK = 0,
    SG_ENOMEM = -1,    /* out of memory */
    SG_EINVAL = -2,    /* invalid argument or input */
    SG_EIO = -3,       /* I/O or socket error */
    SG_ENOTFOUND = -4, /* named thing does not exist */
    SG_ESTATE = -5,    /* operation not valid in the current state */
    SG_ETIMEOUT = -6,  /* deadline passed */
    SG_EFULL = -7,     /* queue or table full */
    SG_ECONFIG = -8,   /* configuration rejected */
    SG_EPROTO = -9,    /* peer broke a protocol or ABI contract */
    SG_ESTOPPED = -10  /* the component is shutting down */
} sg_err_t;

/* Static, human readable text for an error code; never NULL. */
const char *sg_err_str(int err);

#endif
