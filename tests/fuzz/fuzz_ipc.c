/* fuzz_ipc.c — libFuzzer target: the control-socket frame decoder on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipc_msg m;
    size_t used, off = 0;
    const char *why;
    char s[64];
    uint32_t v;

    /* Walk the input as a stream of frames, as a daemon reading a socket would. */
    while (off < size) {
        enum ipc_result r = ipc_decode(data + off, size - off, &m, &used, &why);
        if (r != IPC_COMPLETE)
            break;
        if (used < IPC_HEADER_LEN || used > size - off)
            __builtin_trap();
        for (size_t i = 0; i < m.nattrs; i++)
            if (m.attrs[i].val + m.attrs[i].len > data + off + used)
                __builtin_trap();
        ipc_get_str(&m, ATTR_TEXT, s, sizeof(s));
        ipc_get_u32(&m, ATTR_MTU, &v);
        off += used;
    }
    return 0;
}
