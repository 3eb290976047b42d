// The two ceilings of a roofline, measured on the running machine: the peak single-precision FMA
// rate of the widest vectors the CPU runs (CKernels' probe: 12 independent chains per thread) and
// the memory bandwidth of a STREAM-style triad over arrays far larger than the caches.
import CKernels
import Dispatch
import Foundation

public enum MachineProbes {
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// The level-2 cache of one core in bytes (Linux sysfs, `index2`), or nil when the system does not say.
    public static let level2CacheBytes: Int? = {
        for index in 0..<8 {
            let folder = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let level = try? String(contentsOfFile: folder + "level", encoding: .utf8), level.trimmingCharacters(in: .whitespacesAndNewlines) == "2",
                  let size = try? String(contentsOfFile: folder + "size", encoding: .utf8) else { continue }
            let text = size.trimmingCharacters(in: .whitespacesAndNewlines)
            let scale = text.hasSuffix("K") ? 1 << 10 : text.hasSuffix("M") ? 1 << 20 : 1
            if let value = Int(text.filter(\.isNumber)) { return value * scale }
        }
        return nil
    }()

    /// Floats per vector the FMA probe uses (16 with AVX-512, 8 with AVX2+FMA).
    public static var vectorWidth: Int { Int(scizoo_fma_probe_width()) }

    /// FLOP/s of `threads` threads running the FMA probe at once; the best of `repeats`.
    public static func fmaPeak(threads: Int, iterations: Int = 50_000_000, repeats: Int = 3) -> Double {
        var best = 0.0
        for _ in 0..<repeats {
            let clock = ContinuousClock(), start = clock.now
            let flops = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
            defer { flops.deallocate() }
            let shared = UncheckedSendable(flops)  // each thread writes its own slot
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                var sink = Float(thread)
                shared.value[thread] = scizoo_fma_probe(iterations, &sink)
                if sink == .infinity { print("") }  // keeps the result alive
            }
            let seconds = Self.seconds(clock.now - start)
            best = max(best, flops.reduce(0, +) / seconds)
        }
        return best
    }

    /// Bytes/s of a triad a = b + s·c over three arrays of `floats` each (12 bytes moved per
    /// element, write-allocate not counted), split across `threads`; the best of `repeats`.
    public static func triadBandwidth(threads: Int, floats: Int = 32 << 20, repeats: Int = 5) -> Double {
        let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: floats), b = UnsafeMutableBufferPointer<Float>.allocate(capacity: floats)
        let c = UnsafeMutableBufferPointer<Float>.allocate(capacity: floats)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        let chunk = (floats + threads - 1) / threads
        let arrays = UncheckedSendable((a, b, c))  // threads touch disjoint parts
        // First touch on the thread that will stream the part.
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            let (a, b, c) = arrays.value
            let start = thread * chunk, end = min(floats, start + chunk)
            for i in start..<end { (a[i], b[i], c[i]) = (0, 1, 2) }
        }
        var best = 0.0
        for _ in 0..<repeats {
            let clock = ContinuousClock(), start = clock.now
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                let (a, b, c) = arrays.value
                let first = thread * chunk, end = min(floats, first + chunk)
                scizoo_triad_f32(a.baseAddress! + first, b.baseAddress! + first, c.baseAddress! + first, end - first, 3)
            }
            best = max(best, Double(12 * floats) / Self.seconds(clock.now - start))
        }
        return best
    }
}
