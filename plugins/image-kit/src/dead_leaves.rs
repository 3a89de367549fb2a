//! Dead-leaves images: opaque discs of random colour dropped on top of each other until the
//! image is covered, radii drawn from p(r) ∝ r⁻³ (scale invariant). The classic synthetic model
//! of natural images (Matheron; Lee, Mumford & Huang 2001): occlusions, sharp edges and a
//! power-law spectrum, made by the program, so a suite needs no download.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

const MIN_RADIUS: f64 = 1.5;
const MAX_RADIUS: f64 = 48.0;

/// One 8-bit RGB dead-leaves image, row-major `height × width × 3`, from `seed`.
pub fn dead_leaves(height: usize, width: usize, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut pixels = vec![0u8; height * width * 3];
    let mut covered = vec![false; height * width];
    let mut left = height * width;
    let (a, b) = (MIN_RADIUS.powi(-2), MAX_RADIUS.powi(-2));
    // Front to back: each disc paints only what the discs before it left uncovered.
    for _ in 0..1_000_000 {
        if left == 0 {
            break;
        }
        let u: f64 = rng.random();
        let r = (a - u * (a - b)).powf(-0.5);
        let cy = rng.random_range(-r..height as f64 + r);
        let cx = rng.random_range(-r..width as f64 + r);
        let grey: f64 = rng.random_range(0.05..0.95);
        let tint = [rng.random_range(-0.15..0.15), rng.random_range(-0.15..0.15), rng.random_range(-0.15..0.15)];
        let colour = tint.map(|t: f64| ((grey + t).clamp(0.0, 1.0) * 255.0).round() as u8);
        let (r0, r1) = ((cy - r).floor().max(0.0) as usize, ((cy + r).ceil() as usize).min(height));
        let (c0, c1) = ((cx - r).floor().max(0.0) as usize, ((cx + r).ceil() as usize).min(width));
        for y in r0..r1 {
            for x in c0..c1 {
                let i = y * width + x;
                if !covered[i] && (y as f64 + 0.5 - cy).powi(2) + (x as f64 + 0.5 - cx).powi(2) <= r * r {
                    covered[i] = true;
                    left -= 1;
                    pixels[3 * i..3 * i + 3].copy_from_slice(&colour);
                }
            }
        }
    }
    pixels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_covered_seeded_and_varied() {
        let a = dead_leaves(64, 80, 1);
        assert_eq!(a.len(), 64 * 80 * 3);
        assert_eq!(a, dead_leaves(64, 80, 1));
        assert_ne!(a, dead_leaves(64, 80, 2));
        let distinct: std::collections::HashSet<&[u8]> = a.chunks_exact(3).collect();
        assert!(distinct.len() > 20, "{} colours", distinct.len());
        assert!(a.chunks_exact(3).all(|p| p != [0, 0, 0]), "an uncovered pixel");
    }
}
