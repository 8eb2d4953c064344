// Snapshot <-> rows of fields for the recording codec (RecordingCodec.swift).
// The field order is part of recording format version 1: append new fields at the
// end of a row and bump recordingFormatVersion when a field's meaning changes.
import Model

enum RecSchemas {
    static let degraded = RecRowSchema("degraded", [.string, .string], key: [0])

    static let mig = RecRowSchema("MIG device", [
        .int,     // 0 index
        .string,  // 1 uuid
        .string,  // 2 name
        .int,     // 3 gpuInstanceId
        .int,     // 4 computeInstanceId
        .int,     // 5 gpuInstanceSlices
        .int,     // 6 computeInstanceSlices
        .int,     // 7 multiprocessors
        .int,     // 8 memoryTotal
        .int,     // 9 memoryUsed
        // GPM (absent in recordings made before it): percent, then bytes per second.
        .double,  // 10 graphicsActive
        .double,  // 11 smActive
        .double,  // 12 smOccupancy
        .double,  // 13 tensorActive
        .double,  // 14 dramActive
        .double,  // 15 pcieTxBytesPerSecond
        .double,  // 16 pcieRxBytesPerSecond
        .double,  // 17 nvlinkTxBytesPerSecond
        .double,  // 18 nvlinkRxBytesPerSecond
    ], key: [0])

    static let gpuEnergy = RecRowSchema("GPU energy", [
        .int,     // 0 gpu
        .double,  // 1 joules
    ], key: [0])

    static let gpu = RecRowSchema("GPU", [
        .int,     // 0 index
        .string,  // 1 name
        .string,  // 2 uuid
        .string,  // 3 pciBusId
        .int,     // 4 lost (0/1)
        .int,     // 5 utilizationGpu
        .int,     // 6 utilizationMemory
        .int,     // 7 memoryTotal
        .int,     // 8 memoryReserved
        .int,     // 9 memoryUsed
        .int,     // 10 memoryFree
        .int,     // 11 temperature
        .int,     // 12 fanSpeed
        .int,     // 13 clockSM
        .int,     // 14 clockMemory
        .int,     // 15 performanceState
        .int,     // 16 powerDraw
        .int,     // 17 powerLimitEnforced
        .int,     // 18 powerLimit
        .int,     // 19 powerLimitDefault
        .int,     // 20 powerLimitMin
        .int,     // 21 powerLimitMax
        .int,     // 22 energyTotal
        .int,     // 23 persistenceMode (0/1)
        .string,  // 24 computeMode
        .int,     // 25 encoderUtilization
        .int,     // 26 decoderUtilization
        .int,     // 27 migMode: current | pending << 1
        .rows(mig), // 28 migDevices
        // GPU health: absent (null) in recordings made before it.
        .int,     // 29 clockEventReasons
        .int,     // 30 powerViolationTime
        .int,     // 31 powerCappedPercent
        .int,     // 32 eccUncorrectedVolatile
        .int,     // 33 eccUncorrectedAggregate
        .int,     // 34 remappedRowsCorrectable
        .int,     // 35 remappedRowsUncorrectable
        .int,     // 36 rowRemapPending (0/1)
        .int,     // 37 rowRemapFailure (0/1)
        .int,     // 38 lastXID
        .ints,    // 39 xidCounts: code1, count1, code2, count2, ...
        // GPM (absent in recordings made before it): percent, then bytes per second.
        .double,  // 40 graphicsActive
        .double,  // 41 smActive
        .double,  // 42 smOccupancy
        .double,  // 43 tensorActive
        .double,  // 44 dramActive
        .double,  // 45 pcieTxBytesPerSecond
        .double,  // 46 pcieRxBytesPerSecond
        .double,  // 47 nvlinkTxBytesPerSecond
        .double,  // 48 nvlinkRxBytesPerSecond
        // The GPU's energy counter since gpuctop began counting (null: not read).
        .double,  // 49 energyCount.joules
        .double,  // 50 energyCount.since
        .double,  // 51 energyCount.attributedJoules
    ], key: [0])

    static let process = RecRowSchema("process", [
        .int,     // 0 pid
        .int,     // 1 gpuIndex
        .string,  // 2 kind
        .int,     // 3 usedGpuMemory
        .int,     // 4 gpuInstanceId
        .int,     // 5 computeInstanceId
        .int,     // 6 smUtilization
        .int,     // 7 memoryUtilization
        .int,     // 8 encoderUtilization
        .int,     // 9 decoderUtilization
        .string,  // 10 info.command (nil: no info)
        .string,  // 11 info.user
        .int,     // 12 info.uid
        .double,  // 13 info.startTime
        .int,     // 14 info.namespacePid
        .double,  // 15 info.cpuPercent
        .int,     // 16 info.residentBytes
        .string,  // 17 info.container.runtime
        .string,  // 18 info.container.id (nil: no container)
        .string,  // 19 info.container.podUID
        .int,     // 20 info.startTicks
    ], key: [0, 1, 2])

    static let container = RecRowSchema("container", [
        .string,  // 0 id
        .string,  // 1 runtime
        .string,  // 2 name
        .string,  // 3 image
        .string,  // 4 composeProject
        .string,  // 5 composeService
        .string,  // 6 podName
        .string,  // 7 podNamespace
        .string,  // 8 podContainer
        .string,  // 9 podUID
        .string,  // 10 status
        .string,  // 11 health
        .double,  // 12 startedAt
        .string,  // 13 gpuRequest
        .strings, // 14 labels, sorted by key: k1, v1, k2, v2, ...
        .ints,    // 15 gpus
        .strings, // 16 migInstances
        .int,     // 17 processCount
        .int,     // 18 gpuMemory
        .int,     // 19 smUtilization
        .int,     // 20 estimatedPowerShare
        .int,     // 21 idleAllocation (0/1)
        // Estimated energy (null: not counted, and in recordings made before it).
        .double,  // 22 energy.joules
        .double,  // 23 energy.since
        .int,     // 24 energy.sinceContainerStart (0/1)
        .rows(gpuEnergy), // 25 energy.byGPU
    ], key: [0])

    static let xid = RecRowSchema("XID event", [
        .double,  // 0 time
        .int,     // 1 gpuIndex
        .int,     // 2 gpuInstanceId
        .int,     // 3 computeInstanceId
        .int,     // 4 code
        .rows(process),    // 5 processes
        .rows(container),  // 6 containers
    ], key: [0, 1, 4])

    static let snapshot = RecRowSchema("snapshot", [
        .double,  // 0 time
        .string,  // 1 host
        .string,  // 2 driverVersion
        .string,  // 3 cudaVersion
        .rows(degraded),   // 4
        .rows(gpu),        // 5
        .rows(process),    // 6
        .rows(container),  // 7
        .rows(xid),        // 8 xidEvents (null: none, and in recordings made before them)
        .strings,          // 9 engines (absent in recordings made before it)
    ], key: [])
}

// MARK: - To rows

private func f(_ v: Int?) -> RecField { v.map { .int(Int64($0)) } ?? .null }
private func f(_ v: Int32?) -> RecField { v.map { .int(Int64($0)) } ?? .null }
private func f(_ v: UInt32?) -> RecField { v.map { .int(Int64($0)) } ?? .null }
private func f(_ v: UInt64?) -> RecField { v.map { .int(Int64(bitPattern: $0)) } ?? .null }
private func f(_ v: Bool?) -> RecField { v.map { .int($0 ? 1 : 0) } ?? .null }
private func f(_ v: Double?) -> RecField { v.map { .double($0.bitPattern) } ?? .null }
private func f(_ v: String?) -> RecField { v.map { .string($0) } ?? .null }

enum RecRows {
    static func row(_ s: Snapshot) -> [RecField] {
        [f(s.time), f(s.host), f(s.driverVersion), f(s.cudaVersion),
         .rows(s.degraded.map { [f($0.source), f($0.reason)] }),
         .rows(s.gpus.map(row)),
         .rows(s.processes.map(row)),
         .rows(s.containers.map(row)),
         s.xidEvents.map { .rows($0.map(row)) } ?? .null,
         s.engines.map { .strings($0) } ?? .null]
    }

    static func row(_ e: XIDEvent) -> [RecField] {
        [f(e.time), f(e.gpuIndex), f(e.gpuInstanceId), f(e.computeInstanceId), f(e.code),
         .rows(e.processes.map(row)), .rows(e.containers.map(row))]
    }

    static func row(_ g: GPU) -> [RecField] {
        [f(g.index), f(g.name), f(g.uuid), f(g.pciBusId), f(g.lost),
         f(g.utilizationGpu), f(g.utilizationMemory),
         f(g.memoryTotal), f(g.memoryReserved), f(g.memoryUsed), f(g.memoryFree),
         f(g.temperature), f(g.fanSpeed), f(g.clockSM), f(g.clockMemory), f(g.performanceState),
         f(g.powerDraw), f(g.powerLimitEnforced), f(g.powerLimit), f(g.powerLimitDefault),
         f(g.powerLimitMin), f(g.powerLimitMax), f(g.energyTotal), f(g.persistenceMode),
         f(g.computeMode), f(g.encoderUtilization), f(g.decoderUtilization),
         f(g.migMode.map { ($0.current ? 1 : 0) | ($0.pending ? 2 : 0) }),
         .rows(g.migDevices.map(row)),
         f(g.clockEventReasons), f(g.powerViolationTime), f(g.powerCappedPercent),
         f(g.eccUncorrectedVolatile), f(g.eccUncorrectedAggregate),
         f(g.remappedRowsCorrectable), f(g.remappedRowsUncorrectable), f(g.rowRemapPending), f(g.rowRemapFailure),
         f(g.lastXID), g.xidCounts.map { .ints($0.flatMap { [Int64($0.code), Int64($0.count)] }) } ?? .null]
            + activityFields(g.activity)
            + [f(g.energyCount?.joules), f(g.energyCount?.since), f(g.energyCount?.attributedJoules)]
    }

    static func row(_ m: MIGDevice) -> [RecField] {
        [f(m.index), f(m.uuid), f(m.name), f(m.gpuInstanceId), f(m.computeInstanceId),
         f(m.gpuInstanceSlices), f(m.computeInstanceSlices), f(m.multiprocessors),
         f(m.memoryTotal), f(m.memoryUsed)] + activityFields(m.activity)
    }

    static func row(_ p: GPUProcess) -> [RecField] {
        let i = p.info
        return [f(p.pid), f(p.gpuIndex), f(p.kind.rawValue), f(p.usedGpuMemory),
                f(p.gpuInstanceId), f(p.computeInstanceId), f(p.smUtilization), f(p.memoryUtilization),
                f(p.encoderUtilization), f(p.decoderUtilization),
                f(i?.command), f(i?.user), f(i?.uid), f(i?.startTime), f(i?.namespacePid),
                f(i?.cpuPercent), f(i?.residentBytes),
                f(i?.container?.runtime.rawValue), f(i?.container?.id), f(i?.container?.podUID),
                f(i?.startTicks)]
    }

    static func row(_ c: ContainerUsage) -> [RecField] {
        let labels: RecField = c.labels.map { dict in
            .strings(dict.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
        } ?? .null
        return [f(c.id), f(c.runtime?.rawValue), f(c.name), f(c.image), f(c.composeProject),
                f(c.composeService), f(c.podName), f(c.podNamespace), f(c.podContainer), f(c.podUID),
                f(c.status), f(c.health), f(c.startedAt), f(c.gpuRequest), labels,
                .ints(c.gpus.map { Int64($0) }), .strings(c.migInstances),
                f(c.processCount), f(c.gpuMemory), f(c.smUtilization), f(c.estimatedPowerShare),
                f(c.idleAllocation),
                f(c.energy?.joules), f(c.energy?.since), f(c.energy?.sinceContainerStart),
                c.energy.map { .rows($0.byGPU.map { [f($0.gpu), f($0.joules)] }) } ?? .null]
    }

    static func activityFields(_ a: GPUActivity?) -> [RecField] {
        [f(a?.graphicsActive), f(a?.smActive), f(a?.smOccupancy), f(a?.tensorActive), f(a?.dramActive),
         f(a?.pcieTxBytesPerSecond), f(a?.pcieRxBytesPerSecond), f(a?.nvlinkTxBytesPerSecond), f(a?.nvlinkRxBytesPerSecond)]
    }
}

// MARK: - From rows

/// Typed access to a decoded row; a missing required field or a value out of
/// range is a decoding error, never a crash.
private struct Fields {
    let row: [RecField]
    let what: String

    func int(_ i: Int) throws -> Int? {
        switch row[i] {
        case .null: return nil
        case .int(let v): return Int(v)
        default: throw RecDecodeError("\(what) field \(i) is not a number")
        }
    }
    func int32(_ i: Int) throws -> Int32? {
        guard let v = try int(i) else { return nil }
        guard let r = Int32(exactly: v) else { throw RecDecodeError("\(what) field \(i) is out of range") }
        return r
    }
    func uint32(_ i: Int) throws -> UInt32? {
        guard let v = try int(i) else { return nil }
        guard let r = UInt32(exactly: v) else { throw RecDecodeError("\(what) field \(i) is out of range") }
        return r
    }
    func uint64(_ i: Int) throws -> UInt64? {
        switch row[i] {
        case .null: return nil
        case .int(let v): return UInt64(bitPattern: v)
        default: throw RecDecodeError("\(what) field \(i) is not a number")
        }
    }
    func bool(_ i: Int) throws -> Bool? { try int(i).map { $0 != 0 } }
    func double(_ i: Int) throws -> Double? {
        switch row[i] {
        case .null: return nil
        case .double(let bits): return Double(bitPattern: bits)
        default: throw RecDecodeError("\(what) field \(i) is not a number")
        }
    }
    func string(_ i: Int) throws -> String? {
        switch row[i] {
        case .null: return nil
        case .string(let s): return s
        default: throw RecDecodeError("\(what) field \(i) is not a string")
        }
    }
    func strings(_ i: Int) throws -> [String]? {
        switch row[i] {
        case .null: return nil
        case .strings(let s): return s
        default: throw RecDecodeError("\(what) field \(i) is not a list of strings")
        }
    }
    func ints(_ i: Int) throws -> [Int]? {
        switch row[i] {
        case .null: return nil
        case .ints(let s): return s.map { Int($0) }
        default: throw RecDecodeError("\(what) field \(i) is not a list of numbers")
        }
    }
    func rows(_ i: Int) throws -> [[RecField]] {
        switch row[i] {
        case .null: return []
        case .rows(let r): return r
        default: throw RecDecodeError("\(what) field \(i) is not a list")
        }
    }
    func required<T>(_ v: T?, _ i: Int) throws -> T {
        guard let v else { throw RecDecodeError("\(what) lacks field \(i)") }
        return v
    }
}

extension RecRows {
    static func snapshot(_ row: [RecField], schema: Int) throws -> Snapshot {
        let r = Fields(row: row, what: "the snapshot")
        var s = Snapshot(time: try r.required(r.double(0), 0), host: try r.required(r.string(1), 1))
        s.schema = schema
        s.driverVersion = try r.string(2)
        s.cudaVersion = try r.string(3)
        s.degraded = try r.rows(4).map { d in
            let x = Fields(row: d, what: "a degraded source")
            return DegradedSource(source: try x.required(x.string(0), 0), reason: try x.required(x.string(1), 1))
        }
        s.gpus = try r.rows(5).map(gpu)
        s.processes = try r.rows(6).map(process)
        s.containers = try r.rows(7).map(container)
        if case .rows(let events) = row[8] { s.xidEvents = try events.map(xid) } else { _ = try r.rows(8) }
        s.engines = try r.strings(9)
        return s
    }

    static func xid(_ row: [RecField]) throws -> XIDEvent {
        let r = Fields(row: row, what: "an XID event")
        var e = XIDEvent(time: try r.required(r.double(0), 0), gpuIndex: try r.required(r.int(1), 1),
                         code: try r.required(r.int(4), 4))
        e.gpuInstanceId = try r.int(2)
        e.computeInstanceId = try r.int(3)
        e.processes = try r.rows(5).map(process)
        e.containers = try r.rows(6).map(container)
        return e
    }

    static func gpu(_ row: [RecField]) throws -> GPU {
        let r = Fields(row: row, what: "a GPU")
        var g = GPU(index: try r.required(r.int(0), 0))
        g.name = try r.string(1)
        g.uuid = try r.string(2)
        g.pciBusId = try r.string(3)
        g.lost = try r.bool(4) ?? false
        g.utilizationGpu = try r.int(5)
        g.utilizationMemory = try r.int(6)
        g.memoryTotal = try r.uint64(7)
        g.memoryReserved = try r.uint64(8)
        g.memoryUsed = try r.uint64(9)
        g.memoryFree = try r.uint64(10)
        g.temperature = try r.int(11)
        g.fanSpeed = try r.int(12)
        g.clockSM = try r.int(13)
        g.clockMemory = try r.int(14)
        g.performanceState = try r.int(15)
        g.powerDraw = try r.int(16)
        g.powerLimitEnforced = try r.int(17)
        g.powerLimit = try r.int(18)
        g.powerLimitDefault = try r.int(19)
        g.powerLimitMin = try r.int(20)
        g.powerLimitMax = try r.int(21)
        g.energyTotal = try r.uint64(22)
        g.persistenceMode = try r.bool(23)
        g.computeMode = try r.string(24)
        g.encoderUtilization = try r.int(25)
        g.decoderUtilization = try r.int(26)
        g.migMode = try r.int(27).map { MIGMode(current: $0 & 1 != 0, pending: $0 & 2 != 0) }
        g.migDevices = try r.rows(28).map(mig)
        g.clockEventReasons = try r.uint64(29)
        g.powerViolationTime = try r.uint64(30)
        g.powerCappedPercent = try r.int(31)
        g.eccUncorrectedVolatile = try r.uint64(32)
        g.eccUncorrectedAggregate = try r.uint64(33)
        g.remappedRowsCorrectable = try r.int(34)
        g.remappedRowsUncorrectable = try r.int(35)
        g.rowRemapPending = try r.bool(36)
        g.rowRemapFailure = try r.bool(37)
        g.lastXID = try r.int(38)
        if let flat = try r.ints(39) {
            guard flat.count % 2 == 0 else { throw RecDecodeError("a GPU's XID counts are not pairs") }
            g.xidCounts = stride(from: 0, to: flat.count, by: 2).map { XIDCount(code: flat[$0], count: flat[$0 + 1]) }
        }
        g.activity = try activity(r, from: 40)
        if let joules = try r.double(49) {
            g.energyCount = GPUEnergyCount(joules: joules, since: try r.required(r.double(50), 50),
                                           attributedJoules: try r.required(r.double(51), 51))
        }
        return g
    }

    static func mig(_ row: [RecField]) throws -> MIGDevice {
        let r = Fields(row: row, what: "a MIG device")
        var m = MIGDevice(index: try r.required(r.int(0), 0))
        m.uuid = try r.string(1)
        m.name = try r.string(2)
        m.gpuInstanceId = try r.int(3)
        m.computeInstanceId = try r.int(4)
        m.gpuInstanceSlices = try r.int(5)
        m.computeInstanceSlices = try r.int(6)
        m.multiprocessors = try r.int(7)
        m.memoryTotal = try r.uint64(8)
        m.memoryUsed = try r.uint64(9)
        m.activity = try activity(r, from: 10)
        return m
    }

    /// Nine GPM fields from `first` on; nil when none is there.
    private static func activity(_ r: Fields, from first: Int) throws -> GPUActivity? {
        var a = GPUActivity()
        a.graphicsActive = try r.double(first)
        a.smActive = try r.double(first + 1)
        a.smOccupancy = try r.double(first + 2)
        a.tensorActive = try r.double(first + 3)
        a.dramActive = try r.double(first + 4)
        a.pcieTxBytesPerSecond = try r.double(first + 5)
        a.pcieRxBytesPerSecond = try r.double(first + 6)
        a.nvlinkTxBytesPerSecond = try r.double(first + 7)
        a.nvlinkRxBytesPerSecond = try r.double(first + 8)
        return a.isEmpty ? nil : a
    }

    static func process(_ row: [RecField]) throws -> GPUProcess {
        let r = Fields(row: row, what: "a process")
        let kindText = try r.required(r.string(2), 2)
        guard let kind = ProcessKind(rawValue: kindText) else {
            throw RecDecodeError("unknown process kind '\(kindText)'")
        }
        var p = GPUProcess(pid: try r.required(r.int32(0), 0), gpuIndex: try r.required(r.int(1), 1), kind: kind)
        p.usedGpuMemory = try r.uint64(3)
        p.gpuInstanceId = try r.int(4)
        p.computeInstanceId = try r.int(5)
        p.smUtilization = try r.int(6)
        p.memoryUtilization = try r.int(7)
        p.encoderUtilization = try r.int(8)
        p.decoderUtilization = try r.int(9)
        if let command = try r.string(10) {
            var info = ProcessInfoSample(command: command, user: try r.required(r.string(11), 11),
                                         uid: try r.required(r.uint32(12), 12),
                                         startTime: try r.required(r.double(13), 13))
            info.namespacePid = try r.int32(14)
            info.cpuPercent = try r.double(15)
            info.residentBytes = try r.uint64(16)
            info.startTicks = try r.uint64(20)
            if let id = try r.string(18) {
                let runtimeText = try r.required(r.string(17), 17)
                guard let runtime = ContainerRef.Runtime(rawValue: runtimeText) else {
                    throw RecDecodeError("unknown container runtime '\(runtimeText)'")
                }
                info.container = ContainerRef(runtime: runtime, id: id, podUID: try r.string(19))
            }
            p.info = info
        }
        return p
    }

    static func container(_ row: [RecField]) throws -> ContainerUsage {
        let r = Fields(row: row, what: "a container")
        var c = ContainerUsage(id: try r.required(r.string(0), 0))
        if let runtimeText = try r.string(1) {
            guard let runtime = ContainerRef.Runtime(rawValue: runtimeText) else {
                throw RecDecodeError("unknown container runtime '\(runtimeText)'")
            }
            c.runtime = runtime
        }
        c.name = try r.string(2)
        c.image = try r.string(3)
        c.composeProject = try r.string(4)
        c.composeService = try r.string(5)
        c.podName = try r.string(6)
        c.podNamespace = try r.string(7)
        c.podContainer = try r.string(8)
        c.podUID = try r.string(9)
        c.status = try r.string(10)
        c.health = try r.string(11)
        c.startedAt = try r.double(12)
        c.gpuRequest = try r.string(13)
        if let flat = try r.strings(14) {
            guard flat.count % 2 == 0 else { throw RecDecodeError("a container's labels are not pairs") }
            var labels: [String: String] = [:]
            for i in stride(from: 0, to: flat.count, by: 2) { labels[flat[i]] = flat[i + 1] }
            c.labels = labels
        }
        c.gpus = try r.ints(15) ?? []
        c.migInstances = try r.strings(16) ?? []
        c.processCount = try r.int(17) ?? 0
        c.gpuMemory = try r.uint64(18) ?? 0
        c.smUtilization = try r.int(19)
        c.estimatedPowerShare = try r.int(20)
        c.idleAllocation = try r.bool(21) ?? false
        if let joules = try r.double(22) {
            var e = ContainerEnergy(joules: joules, since: try r.required(r.double(23), 23),
                                    sinceContainerStart: try r.bool(24) ?? false)
            e.byGPU = try r.rows(25).prefix(SnapshotLimits.gpus).map { row in
                let x = Fields(row: row, what: "a container's GPU energy")
                return GPUEnergyShare(gpu: try x.required(x.int(0), 0), joules: try x.required(x.double(1), 1))
            }
            c.energy = e
        }
        return c
    }
}
