// The least a gpuctop-like Swift program can be: the static standard library, NVML opened
// and read once a second (utilisation, memory, power, process list), a 200x50 ncurses
// screen drawn from Swift strings. No Foundation, no threads, no containers.
import Glibc
@_silgen_name("initscr") func initscr() -> OpaquePointer?
@_silgen_name("endwin") func endwin() -> Int32
@_silgen_name("move") func move(_ y: Int32, _ x: Int32) -> Int32
@_silgen_name("addstr") func addstr(_ s: UnsafePointer<CChar>) -> Int32
@_silgen_name("clrtoeol") func clrtoeol() -> Int32
@_silgen_name("refresh") func refresh() -> Int32
setlocale(LC_ALL, "")
let lib = dlopen("libnvidia-ml.so.1", RTLD_NOW)
func fn<T>(_ name: String, _ t: T.Type) -> T? { lib.flatMap { dlsym($0, name) }.map { unsafeBitCast($0, to: T.self) } }
typealias Init = @convention(c) () -> Int32
typealias Handle = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>) -> Int32
typealias Util = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt32>) -> Int32
typealias Mem = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>) -> Int32
typealias Power = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt32>) -> Int32
typealias Procs = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt32>, UnsafeMutableRawPointer) -> Int32
_ = fn("nvmlInit_v2", Init.self)?()
var dev: OpaquePointer? = nil
_ = fn("nvmlDeviceGetHandleByIndex_v2", Handle.self)?(0, &dev)
let util = fn("nvmlDeviceGetUtilizationRates", Util.self), mem = fn("nvmlDeviceGetMemoryInfo", Mem.self)
let power = fn("nvmlDeviceGetPowerUsage", Power.self), procs = fn("nvmlDeviceGetComputeRunningProcesses_v3", Procs.self)
let seconds = Int(CommandLine.arguments.dropFirst().first ?? "30") ?? 30
_ = initscr()
var buffer = UnsafeMutableRawPointer.allocate(byteCount: 24 * 1024, alignment: 8)
for tick in 0..<seconds {
    var u: [UInt32] = [0, 0], m: [UInt64] = [0, 0, 0], p: UInt32 = 0, n: UInt32 = 1024
    _ = util?(dev, &u); _ = mem?(dev, &m); _ = power?(dev, &p); _ = procs?(dev, &n, buffer)
    var lines = ["GPU 0  util \(u[0])%  memory \(m[2] >> 20)/\(m[0] >> 20) MiB  power \(p / 1000) W  tick \(tick)"]
    for i in 0..<Int(min(n, 1024)) {
        let pid = buffer.load(fromByteOffset: i * 24, as: UInt32.self)
        let used = buffer.load(fromByteOffset: i * 24 + 8, as: UInt64.self)
        lines.append("  pid \(pid)  \(used >> 20) MiB  " + String(repeating: "|", count: Int(used >> 30) % 40))
    }
    for row in 0..<49 {
        _ = move(Int32(row), 0)
        if row < lines.count { _ = lines[row].withCString { addstr($0) } }
        _ = clrtoeol()
    }
    _ = refresh()
    sleep(1)
}
_ = endwin()
