// Pictures of a forecast: truth, forecast and error maps side by side with titles, colour bars
// and coastlines, north up, rendered to RGB for a PNG.

public struct RGBImage {
    public let width: Int, height: Int
    public var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        (pixels[i], pixels[i + 1], pixels[i + 2]) = colour
    }

    /// Upper-case text in a 5×7 bitmap font, `scale` pixels per font pixel.
    mutating func text(_ string: String, x: Int, y: Int, scale: Int = 2, colour: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
        var cursor = x
        for character in string.uppercased() {
            let rows = BitmapFont.glyphs[character] ?? BitmapFont.glyphs["?"]!
            for (r, bits) in rows.enumerated() {
                for c in 0..<5 where bits & (0x10 >> c) != 0 {
                    for dy in 0..<scale { for dx in 0..<scale { set(cursor + c * scale + dx, y + r * scale + dy, colour) } }
                }
            }
            cursor += 6 * scale
        }
    }

    static func textWidth(_ string: String, scale: Int = 2) -> Int { string.count * 6 * scale }
}

public enum ForecastMaps {
    /// Three panels (truth, forecast, forecast − truth) of one variable on a latitude-longitude grid.
    /// - Parameters: fields `[H, W]` in physical units, rows in the order of `latitudes`;
    ///   landMask `[H, W]` (optional) draws coastlines where it crosses 0.5.
    public static func render(truth: [Float], forecast: [Float], latitudes: [Double], width: Int, title: String, units: String,
                              landMask: [Float]? = nil, cell requestedCell: Int = 6) -> RGBImage {
        let h = latitudes.count
        // Small (regional) grids get larger cells, so that panels and their labels stay readable.
        let cell = Swift.max(requestedCell, 320 / Swift.max(1, width))
        // North at the top whatever the file's row order.
        let rowOrder = latitudes.first! < latitudes.last! ? Array((0..<h).reversed()) : Array(0..<h)
        let panelWidth = width * cell, panelHeight = h * cell, margin = 24, titleHeight = 22, barHeight = 12, labelHeight = 20
        let imageWidth = Swift.max(3 * panelWidth + 4 * margin, RGBImage.textWidth(title) + 2 * margin)
        let imageHeight = 40 + titleHeight + panelHeight + 8 + barHeight + labelHeight + 10
        var image = RGBImage(width: imageWidth, height: imageHeight)
        image.text(title, x: margin, y: 12, scale: 2)
        let error = zip(forecast, truth).map { $0 - $1 }
        let low = Swift.min(truth.min()!, forecast.min()!), high = Swift.max(truth.max()!, forecast.max()!)
        let bound = Swift.max(error.map { abs($0) }.max()!, 1e-12)
        let panels: [(String, [Float], Float, Float, Bool)] = [("truth", truth, low, high, false), ("forecast", forecast, low, high, false),
                                                               ("error (forecast - truth)", error, -bound, bound, true)]
        for (index, (name, field, minimum, maximum, diverging)) in panels.enumerated() {
            let left = margin + index * (panelWidth + margin), top = 40 + titleHeight
            image.text(name, x: left, y: 40, scale: 2)
            func colour(_ value: Float) -> (UInt8, UInt8, UInt8) {
                let t = Double((value - minimum) / Swift.max(maximum - minimum, 1e-12))
                return diverging ? Palette.diverging(t) : Palette.sequential(t)
            }
            for (y, row) in rowOrder.enumerated() {
                for column in 0..<width {
                    let c = colour(field[row * width + column])
                    for dy in 0..<cell { for dx in 0..<cell { image.set(left + column * cell + dx, top + y * cell + dy, c) } }
                }
            }
            if let landMask {
                // Coastlines on cell edges where the land fraction crosses one half.
                for (y, row) in rowOrder.enumerated() {
                    for column in 0..<width {
                        let land = landMask[row * width + column] >= 0.5
                        if column + 1 < width, land != (landMask[row * width + column + 1] >= 0.5) {
                            for dy in 0..<cell { image.set(left + (column + 1) * cell, top + y * cell + dy, (0, 0, 0)) }
                        }
                        if y + 1 < h, land != (landMask[rowOrder[y + 1] * width + column] >= 0.5) {
                            for dx in 0..<cell { image.set(left + column * cell + dx, top + (y + 1) * cell, (0, 0, 0)) }
                        }
                    }
                }
            }
            // Frame, colour bar and its end labels.
            for x in left..<(left + panelWidth) { image.set(x, top - 1, (0, 0, 0)); image.set(x, top + panelHeight, (0, 0, 0)) }
            for y in top..<(top + panelHeight) { image.set(left - 1, y, (0, 0, 0)); image.set(left + panelWidth, y, (0, 0, 0)) }
            let barTop = top + panelHeight + 8
            for x in 0..<panelWidth {
                let c = colour(minimum + (maximum - minimum) * Float(x) / Float(panelWidth - 1))
                for y in 0..<barHeight { image.set(left + x, barTop + y, c) }
            }
            let lowLabel = format(minimum), highLabel = format(maximum) + " " + units
            image.text(lowLabel, x: left, y: barTop + barHeight + 4, scale: 1)
            image.text(highLabel, x: left + panelWidth - RGBImage.textWidth(highLabel, scale: 1), y: barTop + barHeight + 4, scale: 1)
        }
        return image
    }

    static func format(_ value: Float) -> String {
        let magnitude = abs(value)
        if magnitude >= 1000 { return String(Int(value.rounded())) }
        if magnitude >= 10 { return String(Double(Int((value * 10).rounded())) / 10) }
        return String(Double(Int((value * 1000).rounded())) / 1000)
    }
}

enum Palette {
    /// Viridis-like: dark purple → blue → green → yellow.
    static func sequential(_ t: Double) -> (UInt8, UInt8, UInt8) {
        interpolate(t, [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)])
    }

    /// Blue → white → red, white at the middle (zero error).
    static func diverging(_ t: Double) -> (UInt8, UInt8, UInt8) {
        interpolate(t, [(49, 54, 149), (116, 173, 209), (255, 255, 255), (244, 109, 67), (165, 0, 38)])
    }

    static func interpolate(_ t: Double, _ anchors: [(Double, Double, Double)]) -> (UInt8, UInt8, UInt8) {
        let x = Swift.min(1, Swift.max(0, t.isFinite ? t : 0)) * Double(anchors.count - 1)
        let i = Swift.min(anchors.count - 2, Int(x)), f = x - Double(i)
        let (a, b) = (anchors[i], anchors[i + 1])
        return (UInt8(a.0 + (b.0 - a.0) * f), UInt8(a.1 + (b.1 - a.1) * f), UInt8(a.2 + (b.2 - a.2) * f))
    }
}

/// A 5×7 font: each glyph is seven rows of five bits, the leftmost pixel in bit 4.
enum BitmapFont {
    static let glyphs: [Character: [UInt8]] = [
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        " ": [0, 0, 0, 0, 0, 0, 0], ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        "-": [0, 0, 0, 0x1F, 0, 0, 0], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08], "_": [0, 0, 0, 0, 0, 0, 0x1F], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0],
        "*": [0, 0x04, 0x15, 0x0E, 0x15, 0x04, 0], "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        "|": [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04], "?": [0x0E, 0x11, 0x01, 0x02, 0x04, 0, 0x04],
        "²": [0x0C, 0x02, 0x04, 0x0E, 0, 0, 0], "°": [0x0C, 0x12, 0x12, 0x0C, 0, 0, 0],
    ]
}
