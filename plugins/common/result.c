/* result: protocol answers to delivery results. */
#include "common/result.h"

#include <curl/curl.h>

/* Errors no retry can mend: the sink is misconfigured. */
static int s_permanent(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
        return 1;
    default:
        return 0;
    }
}

sg_deliver_result_t sg_result_http(int curl_code, long status)
{
    if (curl_code != CURLE_OK)
        return s_permanent(curl_code) ? SG_DELIVER_FATAL : SG_DELIVER_RETRY;
    if (status >= 200 && status <= 299)
        return SG_DELIVER_OK;
    if (status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599))
        return SG_DELIVER_RETRY;
    if (status == 0)
        return SG_DELIVER_RETRY; /* no status at all: the answer was lost */
    return SG_DELIVER_FATAL;
}

sg_deliver_result_t sg_result_smtp(int curl_code, long reply)
{
    if (reply >= 400 && reply <= 499)
        return SG_DELIVER_RETRY;
    if (reply >= 500 && reply <= 599)
        return SG_DELIVER_FATAL;
    if (curl_code == CURLE_LOGIN_DENIED)
        return SG_DELIVER_FATAL;
    if (curl_code != CURLE_OK)
        return s_permanent(curl_code) ? SG_DELIVER_FATAL : SG_DELIVER_RETRY;
    return SG_DELIVER_OK;
}
