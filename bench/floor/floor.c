/* floor.swift's twin in C. */
#include <dlfcn.h>
#include <locale.h>
#include <ncurses.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
int main(int argc, char **argv) {
    setlocale(LC_ALL, "");
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW); void *dev = 0;
    if (lib) { ((int (*)(void))dlsym(lib, "nvmlInit_v2"))(); ((int (*)(unsigned, void **))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"))(0, &dev); }
    int (*util)(void *, unsigned *) = lib ? dlsym(lib, "nvmlDeviceGetUtilizationRates") : 0;
    int (*mem)(void *, unsigned long long *) = lib ? dlsym(lib, "nvmlDeviceGetMemoryInfo") : 0;
    int (*power)(void *, unsigned *) = lib ? dlsym(lib, "nvmlDeviceGetPowerUsage") : 0;
    int (*procs)(void *, unsigned *, void *) = lib ? dlsym(lib, "nvmlDeviceGetComputeRunningProcesses_v3") : 0;
    int seconds = argc > 1 ? atoi(argv[1]) : 30; char *buffer = malloc(24 * 1024);
    initscr();
    for (int tick = 0; tick < seconds; tick++) {
        unsigned u[2] = {0}, p = 0, n = 1024; unsigned long long m[3] = {0};
        if (util) util(dev, u); if (mem) mem(dev, m); if (power) power(dev, &p); if (procs) procs(dev, &n, buffer); else n = 0;
        mvprintw(0, 0, "GPU 0  util %u%%  memory %llu/%llu MiB  power %u W  tick %d", u[0], m[2] >> 20, m[0] >> 20, p / 1000, tick); clrtoeol();
        for (int row = 1; row < 49; row++) {
            move(row, 0);
            if (row - 1 < (int)n) { unsigned pid; unsigned long long used; memcpy(&pid, buffer + (row - 1) * 24, 4); memcpy(&used, buffer + (row - 1) * 24 + 8, 8);
                printw("  pid %u  %llu MiB  ", pid, used >> 20); for (unsigned k = 0; k < (used >> 30) % 40; k++) addch('|'); }
            clrtoeol();
        }
        refresh(); sleep(1);
    }
    endwin(); return 0;
}
