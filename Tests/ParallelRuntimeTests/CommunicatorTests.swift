import Foundation
import Testing
@testable import ParallelRuntime

@Suite("Communicators")
struct CommunicatorTests {
    @Test("the in-process world passes the collective conformance check", arguments: [1, 2, 3, 4])
    func inProcess(size: Int) throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: size) { communicator in
            failures.add(try CommunicatorCheck.run(communicator))
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }

    @Test("misuse is an error, not a wrong answer")
    func misuse() throws {
        let failures = FailureBox()
        try InProcessWorld.run(size: 2) { c in
            do {
                _ = try c.allToAll([1.0, 2, 3])
                failures.add(["allToAll with 3 values on 2 ranks must fail"])
            } catch is CommunicatorError {}
            do {
                _ = try c.send([1.0], to: 5, tag: 0)
                failures.add(["send to rank 5 must fail"])
            } catch is CommunicatorError {}
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }
}

final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String] = []
    func add(_ new: [String]) { lock.lock(); values += new; lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return values }
}

@Suite("Launch")
struct LaunchTests {
    @Test("ranks with the same configuration pass; one different rank makes every rank fail, naming it")
    func configurationFingerprint() throws {
        #expect(LaunchCheck.fingerprint("") == 0xcbf2_9ce4_8422_2325)
        #expect(LaunchCheck.fingerprint("a") == 0xaf63_dc4c_8601_ec8c)  // FNV-1a 64 test vector
        let failures = FailureBox()
        try InProcessWorld.run(size: 3) { world in
            try LaunchCheck.requireSameConfiguration("batch_size: 4", over: world, describing: "recipe")
            do {
                try LaunchCheck.requireSameConfiguration(world.rank == 2 ? "batch_size: 8" : "batch_size: 4", over: world, describing: "recipe")
                failures.add(["rank \(world.rank) did not fail"])
            } catch let error as LaunchError {
                if !error.description.contains("ranks [2] run a different recipe") { failures.add(["\(error)"]) }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
    }
}
