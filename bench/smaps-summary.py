# Resident and private memory of a process by mapping (from /proc/PID/smaps), to
# compare what NVML costs inside each tool.   python3 bench/smaps-summary.py PID
import collections, sys
rss = collections.Counter(); private = collections.Counter(); name = "[anonymous]"
for line in open(f"/proc/{sys.argv[1]}/smaps"):
    f = line.split()
    if f and "-" in f[0] and all(c in "0123456789abcdef-" for c in f[0]):
        name = f[5].rsplit("/", 1)[-1] if len(f) >= 6 else "[anonymous]"
    elif f and f[0] == "Rss:":
        rss[name] += int(f[1])
    elif f and f[0] in ("Private_Clean:", "Private_Dirty:"):
        private[name] += int(f[1])
status = {l.split(":")[0]: l.split()[1] for l in open(f"/proc/{sys.argv[1]}/status") if l.startswith(("VmRSS", "VmHWM"))}
print(f"VmRSS {int(status['VmRSS'])/1024:.1f} MiB, VmHWM {int(status['VmHWM'])/1024:.1f} MiB")
for n, kb in rss.most_common(14):
    print(f"  {n:40s} rss {kb/1024:6.1f} MiB  private {private[n]/1024:6.1f} MiB")
