// A full disk under a training run, for real: the run folder sits on a small tmpfs, filled to the
// last few kilobytes before a resumed run must write its next checkpoint. Mounting needs root (the
// test command runs as root on CI's machines); elsewhere the test is disabled and says so.
import Foundation
import Testing
import TestSupport

enum SmallDisk {
    /// Mounts a tmpfs of `bytes` at `path`; false when this process may not mount.
    static func mount(_ path: String, bytes: Int) -> Bool {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard let result = try? Subprocess.run("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path]) else { return false }
        return result.status == 0
    }

    static func unmount(_ path: String) { _ = try? Subprocess.run("/usr/bin/env", ["umount", "-l", path]) }

    /// Remounts `path` read-only (true) or read-write (false).
    static func remount(_ path: String, readOnly: Bool) -> Bool {
        (try? Subprocess.run("/usr/bin/env", ["mount", "-o", readOnly ? "remount,ro" : "remount,rw", path]))?.status == 0
    }

    static var available: Bool {
        guard getuid() == 0 else { return false }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("scizoo-mount-probe-\(getpid())").path
        defer { unmount(probe); try? FileManager.default.removeItem(atPath: probe) }
        return mount(probe, bytes: 1 << 16)
    }

    /// Fills `path`'s file system to all but `leave` bytes with one file.
    static func fill(_ path: String, leaving leave: Int) throws {
        let free = (try FileManager.default.attributesOfFileSystem(forPath: path)[.systemFreeSize] as! NSNumber).intValue
        let filler = path + "/filler"
        _ = FileManager.default.createFile(atPath: filler, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        defer { try? handle.close() }
        let chunk = Data(count: 1 << 16)
        var remaining = Swift.max(0, free - leave)
        while remaining > 0 {
            let piece = Swift.min(remaining, chunk.count)
            do { try handle.write(contentsOf: chunk.prefix(piece)) } catch { break }
            remaining -= piece
        }
    }
}

@Suite("Full disks")
struct DiskFullTests {
    /// graphormer-train on the CLI tests' small molecule set, into a run folder, with extra flags.
    static func trainer(in folder: String) throws -> (String, [String]) throws -> ProcessResult {
        let recipe = try GraphormerCLITests.recipe(try GraphormerCLITests.dataset(in: folder), in: folder)
        return { run, extra in try CLI.run(["graphormer-train", "--config", recipe, "--run-dir", run, "--threads", "1"] + extra) }
    }

    @Test("a checkpoint that no longer fits ends the run in one line naming the file and the cause; last.h5 stays whole, no temporary is left, and the freed run resumes bit for bit",
          .enabled(if: SmallDisk.available, "mounting a tmpfs needs root"))
    func checkpointOnAFullDisk() throws {
        let folder = try Fixtures.scratchDirectory().path, disk = folder + "/disk"
        let train = try Self.trainer(in: folder)
        #expect(SmallDisk.mount(disk, bytes: 16 << 20))
        defer { SmallDisk.unmount(disk) }
        let whole = try train(folder + "/whole", [])
        #expect(whole.status == 0, "\(whole.standardError)")

        let run = disk + "/run", checkpoints = run + "/checkpoints"
        let first = try train(run, ["--stop-at-step", "12"])
        #expect(first.status == 0, "\(first.standardError)")
        let names = try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted()
        let last = try Data(contentsOf: URL(fileURLWithPath: checkpoints + "/last.h5"))

        try SmallDisk.fill(disk, leaving: 32 << 10)
        let full = try train(run, ["--resume"])
        let message = full.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(full.status != 0)
        #expect(!message.contains("\n") && message.contains("No space left on device") && message.contains(run) && message.contains("is intact"),
                "\(message.debugDescription)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted() == names)
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoints + "/last.h5")) == last)

        try FileManager.default.removeItem(atPath: disk + "/filler")
        let resumed = try train(run, ["--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/whole", timing: "graphs_per_second") == CLI.metricsWithoutTiming(run, timing: "graphs_per_second"))
    }

    @Test("a run folder that turned read-only ends the resumed run in one line naming the file and the cause; the checkpoint stays whole, and the run resumes once it is writable",
          .enabled(if: SmallDisk.available, "mounting a tmpfs needs root"))
    func readOnlyRunFolder() throws {
        let folder = try Fixtures.scratchDirectory().path, disk = folder + "/disk"
        let train = try Self.trainer(in: folder)
        #expect(SmallDisk.mount(disk, bytes: 16 << 20))
        defer { SmallDisk.unmount(disk) }
        let run = disk + "/run", checkpoints = run + "/checkpoints"
        let first = try train(run, ["--stop-at-step", "12"])
        #expect(first.status == 0, "\(first.standardError)")
        let last = try Data(contentsOf: URL(fileURLWithPath: checkpoints + "/last.h5"))
        #expect(SmallDisk.remount(disk, readOnly: true))
        let refused = try train(run, ["--resume"])
        let message = refused.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(SmallDisk.remount(disk, readOnly: false))
        #expect(refused.status != 0)
        #expect(!message.contains("\n") && message.contains("Read-only file system") && message.contains(run), "\(message.debugDescription)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoints + "/last.h5")) == last)
        let resumed = try train(run, ["--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
    }
}
