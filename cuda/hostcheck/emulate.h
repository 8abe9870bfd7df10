/* emulate.h — the C interface of emulate.cc. */

/* emu_call runs kernel number `kernel` (package cuda's Kernel) with the launch geometry
 * grid gx × gy, block bx × by, on the arguments of a cuda.Call (nargs 8-byte slots). It
 * returns 0, or -1 for an unknown kernel. */
int emu_call(int kernel, int gx, int gy, int bx, int by, const unsigned long long *args, int nargs);

/* emu_kernel_name is the name of kernel number `kernel` in the emulator's table (or null). */
const char *emu_kernel_name(int kernel);
