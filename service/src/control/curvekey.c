#include "control/curvekey.h"

#include <stdint.h>
#include <string.h>
#include <zmq.h>

bool sg_curvekey_parse(const char *text, char key[41])
{
    while (*text) {
        size_t len = strcspn(text, "\r\n");
        size_t lead = strspn(text, " \t");
        if (lead < len && text[lead] != '#') {
            size_t n = len - lead;
            while (n && (text[lead + n - 1] == ' ' || text[lead + n - 1] == '\t'))
                n--;
            uint8_t bin[32];
            if (n != 40)
                return false;
            memcpy(key, text + lead, 40);
            key[40] = '\0';
            return zmq_z85_decode(bin, key) != NULL;
        }
        text += len;
        text += strspn(text, "\r\n");
    }
    return false;
}
