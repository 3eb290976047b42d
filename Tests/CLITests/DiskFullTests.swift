// A full disk under a training run, for real: the run folder sits on a small tmpfs, filled to the
// last few kilobytes before a resumed run must write its next checkpoint. Mounting needs root (the
// test command runs as root on CI's machines); elsewhere the test is disabled and says so. An I/O
// error (EIO) comes from a preloaded shim (Scripts/faults/io-error.c, built with the toolchain's
// clang) that fails the writes or the fsync of the files a test names.
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

enum FailingDisk {
    /// The shim, built once into a scratch folder.
    static let library: String = {
        let output = try! Fixtures.scratchDirectory("io-error-shim").appendingPathComponent("io-error.so").path
        let source = Fixtures.packageRoot.appendingPathComponent("Scripts/faults/io-error.c").path
        let built = try! Subprocess.run("/usr/bin/env", ["clang", "-shared", "-fPIC", "-O2", "-o", output, source, "-ldl"])
        precondition(built.status == 0, "building \(source): \(built.standardError)")
        return output
    }()

    /// The environment that makes writes (or fsyncs) of files whose path contains `path` fail with EIO.
    static func environment(failing path: String, on call: String = "write", after bytes: Int = 4096) -> [String: String] {
        ["LD_PRELOAD": library, "SCIZOO_IO_ERROR_PATH": path, "SCIZOO_IO_ERROR_ON": call, "SCIZOO_IO_ERROR_AFTER": String(bytes)]
    }
}

@Suite("Full disks and I/O errors")
struct DiskFullTests {
    /// graphormer-train on the CLI tests' small molecule set, into a run folder, with extra flags.
    struct Trainer {
        let recipe: String

        init(in folder: String) throws {
            recipe = try GraphormerCLITests.recipe(try GraphormerCLITests.dataset(in: folder), in: folder)
        }

        func callAsFunction(_ run: String, _ extra: [String], environment: [String: String] = [:]) throws -> ProcessResult {
            try Subprocess.run(try CLI.executable, ["graphormer-train", "--config", recipe, "--run-dir", run, "--threads", "1"] + extra,
                               environment: environment)
        }

        /// An uninterrupted run into `whole`, and `run` stopped at step 12: its checkpoints' names and last.h5's bytes.
        func startRuns(whole: String, run: String) throws -> (names: [String], last: Data) {
            let (uninterrupted, first) = (try self(whole, []), try self(run, ["--stop-at-step", "12"]))
            #expect(uninterrupted.status == 0 && first.status == 0, "\(uninterrupted.standardError) \(first.standardError)")
            let checkpoints = run + "/checkpoints"
            return (try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted(),
                    try Data(contentsOf: URL(fileURLWithPath: checkpoints + "/last.h5")))
        }
    }

    @Test("a checkpoint that no longer fits ends the run in one line naming the file and the cause; last.h5 stays whole, no temporary is left, and the freed run resumes bit for bit",
          .enabled(if: SmallDisk.available, "mounting a tmpfs needs root"))
    func checkpointOnAFullDisk() throws {
        let folder = try Fixtures.scratchDirectory().path, disk = folder + "/disk"
        let train = try Trainer(in: folder)
        #expect(SmallDisk.mount(disk, bytes: 16 << 20))
        defer { SmallDisk.unmount(disk) }
        let run = disk + "/run", checkpoints = run + "/checkpoints"
        let (names, last) = try train.startRuns(whole: folder + "/whole", run: run)

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
        let train = try Trainer(in: folder)
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

    @Test("an I/O error (EIO) in a checkpoint's writes, its fsync or the metrics file ends the run in one line naming the file and the cause; last.h5 stays whole, and the run resumes bit for bit")
    func ioErrors() throws {
        let folder = try Fixtures.scratchDirectory().path
        let train = try Trainer(in: folder)
        let run = folder + "/run", checkpoints = run + "/checkpoints"
        let (names, last) = try train.startRuns(whole: folder + "/whole", run: run)

        // A checkpoint fails 4 KiB in (HDF5 has written part of it); metrics.jsonl at its first line.
        for (path, call, after, file) in [("/checkpoints/", "write", 4096, "last.h5"), ("/checkpoints/", "fsync", 0, "last.h5"),
                                          ("metrics.jsonl", "write", 0, "metrics.jsonl")] {
            let failed = try train(run, ["--resume"], environment: FailingDisk.environment(failing: path, on: call, after: after))
            let message = failed.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(failed.status != 0, "\(call) of \(file)")
            #expect(!message.contains("\n") && message.contains("Input/output error") && message.contains(run + "/") && message.contains(file),
                    "\(call) of \(file): \(message.debugDescription)")
            if file == "last.h5" { #expect(message.contains("the previous last.h5 is intact"), "\(message)") }
            #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted() == names, "\(call) of \(file)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: checkpoints + "/last.h5")) == last, "\(call) of \(file): \(failed.standardOutput)")
        }
        let resumed = try train(run, ["--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try CLI.metricsWithoutTiming(folder + "/whole", timing: "graphs_per_second") == CLI.metricsWithoutTiming(run, timing: "graphs_per_second"))
    }
}
