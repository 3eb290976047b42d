// A training run's loss curve as a self-contained SVG.
import Foundation

/// A loss curve as a self-contained SVG (train in blue, validation in orange).
enum LossCurve {
    static func svg(train: [(Int, Double)], validation: [(Int, Double)]) -> String {
        let width = 640.0, height = 400.0, margin = 50.0
        let all = train + validation
        let maxStep = Double(all.map(\.0).max() ?? 1), minStep = Double(all.map(\.0).min() ?? 0)
        let finite = all.map(\.1).filter(\.isFinite)
        let top = finite.max() ?? 1, bottom = Swift.min(finite.min() ?? 0, top - 1e-9)
        func x(_ step: Int) -> Double { margin + (Double(step) - minStep) / Swift.max(1, maxStep - minStep) * (width - 2 * margin) }
        func y(_ loss: Double) -> Double { height - margin - (loss - bottom) / (top - bottom) * (height - 2 * margin) }
        func path(_ points: [(Int, Double)]) -> String {
            points.filter { $0.1.isFinite }.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="black"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">step</text>
            <text x="14" y="\(height / 2)" transform="rotate(-90 14 \(height / 2))" text-anchor="middle">loss</text>
            <text x="\(margin - 4)" y="\(margin + 4)" text-anchor="end">\(String(format: "%.3g", top))</text>
            <text x="\(margin - 4)" y="\(height - margin)" text-anchor="end">\(String(format: "%.3g", bottom))</text>
            <polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="\(path(train))"/>
            <polyline fill="none" stroke="#ff7f0e" stroke-width="2" points="\(path(validation))"/>
            <text x="\(width - margin)" y="\(margin)" text-anchor="end" fill="#1f77b4">train</text>
            <text x="\(width - margin)" y="\(margin + 16)" text-anchor="end" fill="#ff7f0e">validation</text>
            </svg>

            """
    }
}
