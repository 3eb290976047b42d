// A conformance check of every collective, run on the in-process fake by the unit tests and on
// real MPI ranks by `scizoo mpi-check`: both implementations must give the same answers.

public enum CommunicatorCheck {
    /// Runs every collective with known answers; returns a description of each mismatch.
    public static func run(_ c: any Communicator) throws -> [String] {
        var failures: [String] = []
        func expect(_ condition: Bool, _ what: @autoclosure () -> String) {
            if !condition { failures.append("rank \(c.rank) of \(c.size): \(what())") }
        }
        let r = c.rank, n = c.size
        try c.barrier()

        let broadcast: [Double] = try c.broadcast(r == n - 1 ? [1.5, 2.5] : [0, 0], root: n - 1)
        expect(broadcast == [1.5, 2.5], "broadcast gave \(broadcast)")

        let sums: [Double] = try c.allReduce([Double(r), -Double(r), 1], .sum)
        let total = Double(n * (n - 1) / 2)
        expect(sums == [total, -total, Double(n)], "allReduce sum gave \(sums)")
        expect(try c.allReduce([Int64(r)], .max) == [Int64(n - 1)], "allReduce max (Int64)")
        expect(try c.allReduce([Int32(r + 5)], .min) == [Int32(5)], "allReduce min (Int32)")
        expect(try c.allReduce([Float(r) * 0.5], .sum) == [Float(total) * 0.5], "allReduce sum (Float)")
        expect(try c.allReduce([Double](), .sum).isEmpty, "allReduce of zero values")

        let gathered: [Int64] = try c.allGather([Int64(r), Int64(10 * r)])
        expect(gathered == (0..<n).flatMap { [Int64($0), Int64(10 * $0)] }, "allGather gave \(gathered)")
        expect(try c.allGather([Float]()).isEmpty, "allGather of zero values")

        // Rank r contributes r values (rank 0 contributes none).
        let uneven: [[Double]] = try c.allGatherV((0..<r).map { Double(100 * r + $0) })
        expect(uneven == (0..<n).map { source in (0..<source).map { Double(100 * source + $0) } }, "allGatherV gave \(uneven)")

        let scattered: [Double] = try c.reduceScatter((0..<(2 * n)).map { Double($0 + r) }, .sum)
        let expectedBlock = (2 * r..<(2 * r + 2)).map { Double(n * $0) + total }
        expect(scattered == expectedBlock, "reduceScatter gave \(scattered), expected \(expectedBlock)")

        // Block j of rank r holds 100·r + j; rank r receives 100·j + r from every j.
        let exchanged: [Int64] = try c.allToAll((0..<n).map { Int64(100 * r + $0) })
        expect(exchanged == (0..<n).map { Int64(100 * $0 + r) }, "allToAll gave \(exchanged)")

        // Uneven blocks, zero-length ones included: rank r sends (r + j) % 3 values to rank j.
        let blocks = (0..<n).map { j in (0..<((r + j) % 3)).map { Double(1000 * r + 10 * j + $0) } }
        let received: [[Double]] = try c.allToAllV(blocks)
        let expectedBlocks = (0..<n).map { source in (0..<((source + r) % 3)).map { Double(1000 * source + 10 * r + $0) } }
        expect(received == expectedBlocks, "allToAllV gave \(received)")

        // A ring: send to the next rank, receive from the previous one.
        if n > 1 {
            if r % 2 == 0 {
                try c.send([Int64(r)], to: (r + 1) % n, tag: 7)
                let value: [Int64] = try c.receive(count: 1, from: (r + n - 1) % n, tag: 7)
                expect(value == [Int64((r + n - 1) % n)], "ring receive gave \(value)")
            } else {
                let value: [Int64] = try c.receive(count: 1, from: (r + n - 1) % n, tag: 7)
                try c.send([Int64(r)], to: (r + 1) % n, tag: 7)
                expect(value == [Int64((r + n - 1) % n)], "ring receive gave \(value)")
            }
        }

        // Non-blocking forms: several in flight at once, completed in reverse order; a ring where
        // every rank posts its receive before its send (which would deadlock if either blocked).
        let pendingBarrier = try c.startBarrier()
        let pendingBroadcast: PendingOperation<[Int64]> = try c.startBroadcast(r == 0 ? [42, 43] : [0, 0], root: 0)
        let pendingSum: PendingOperation<[Double]> = try c.startAllReduce([Double(r), 1], .sum)
        let pendingMax: PendingOperation<[Float]> = try c.startAllReduce([Float(r)], .max)
        let pendingGather: PendingOperation<[Int32]> = try c.startAllGather([Int32(r)])
        let pendingEmpty: PendingOperation<[Double]> = try c.startAllGather([])
        let pendingScatter: PendingOperation<[Double]> = try c.startReduceScatter((0..<(2 * n)).map { Double($0 + r) }, .sum)
        let pendingExchange: PendingOperation<[Int64]> = try c.startAllToAll((0..<n).map { Int64(100 * r + $0) })
        let pendingReceive: PendingOperation<[Double]> = try c.startReceive(count: 2, from: (r + n - 1) % n, tag: 9)
        let pendingSend = try c.startSend([Double(r), Double(-r)], to: (r + 1) % n, tag: 9)
        try pendingSend.wait()
        let ringValue = try pendingReceive.wait()
        let previous = Double((r + n - 1) % n)
        expect(ringValue == [previous, -previous], "non-blocking ring gave \(ringValue)")
        expect(try pendingExchange.wait() == (0..<n).map { Int64(100 * $0 + r) }, "non-blocking allToAll")
        expect(try pendingScatter.wait() == expectedBlock, "non-blocking reduceScatter")
        expect(try pendingEmpty.wait().isEmpty, "non-blocking allGather of zero values")
        expect(try pendingGather.wait() == (0..<n).map { Int32($0) }, "non-blocking allGather")
        expect(try pendingMax.wait() == [Float(n - 1)], "non-blocking allReduce max")
        expect(try pendingSum.wait() == [total, Double(n)], "non-blocking allReduce sum")
        expect(try pendingSum.wait() == [total, Double(n)], "a second wait returns the same result")
        expect(try pendingBroadcast.wait() == [42, 43], "non-blocking broadcast")
        try pendingBarrier.wait()

        // Split by parity, ordered by descending world rank.
        let half = try c.split(color: r % 2, key: -r)
        let members = (0..<n).filter { $0 % 2 == r % 2 }
        expect(half.size == members.count, "split size \(half.size), expected \(members.count)")
        expect(half.rank == members.reversed().firstIndex(of: r)!, "split rank \(half.rank)")
        let memberSum = try half.allReduce([Int64(r)], .sum)
        expect(memberSum == [Int64(members.reduce(0, +))], "allReduce in a split group gave \(memberSum)")
        try c.barrier()
        return failures
    }
}
