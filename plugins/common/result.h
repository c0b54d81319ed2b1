/* result: how one delivery went, from a protocol's answer.
 *
 * The one place that maps HTTP statuses, SMTP replies and transport errors
 * to the plugin ABI's OK, RETRY and FATAL, so no plugin invents its own. */
#ifndef SG_PLUGIN_COMMON_RESULT_H
#define SG_PLUGIN_COMMON_RESULT_H

#include "siteguard/plugin.h"

/* `curl_code` is the CURLcode of the transfer (0 when it completed) and
 * `status` the HTTP status it ended with. A transport error is RETRY, except
 * a URL or protocol the transfer can never use (FATAL). Otherwise 2xx is OK;
 * 408, 425, 429 and 5xx are RETRY; other statuses (4xx, and 1xx/3xx, which a
 * sink that does not follow redirects cannot complete) are FATAL. */
sg_deliver_result_t sg_result_http(int curl_code, long status);

/* `reply` is the last SMTP reply code (0 when none came). A 4xx reply is
 * RETRY and a 5xx reply FATAL, whatever curl made of it; with no error
 * reply, a completed transfer is OK and a transport error RETRY (FATAL for
 * a URL or protocol that can never work). */
sg_deliver_result_t sg_result_smtp(int curl_code, long reply);

#endif
