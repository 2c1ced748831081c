//! Turning an upload into stored variants: prove it is an image, refuse what would blow up memory,
//! then resize and encode each variant as WebP.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 8_000;
/// The most pixels accepted (width × height): a 40-megapixel photo decodes to 160 MB of RGBA.
pub const MAX_PIXELS: u64 = 40_000_000;
/// WebP quality of every variant.
const QUALITY: f32 = 80.0;

/// The sizes every upload is stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// 160 × 160, cropped to fill: lists and the gallery strip.
    Thumb,
    /// 480 × 360, cropped to fill: product cards.
    Card,
    /// At most 1600 on the longer side, never enlarged: the product page and its zoom.
    Zoom,
}

impl Variant {
    pub const ALL: [Variant; 3] = [Variant::Thumb, Variant::Card, Variant::Zoom];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Thumb => "thumb",
            Variant::Card => "card",
            Variant::Zoom => "zoom",
        }
    }

    /// The file name it is stored and served under.
    pub fn file_name(self) -> &'static str {
        match self {
            Variant::Thumb => "thumb.webp",
            Variant::Card => "card.webp",
            Variant::Zoom => "zoom.webp",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.file_name() == name)
    }

    fn render(self, image: &DynamicImage) -> DynamicImage {
        use image::imageops::FilterType;
        match self {
            Variant::Thumb => image.resize_to_fill(160, 160, FilterType::Triangle),
            Variant::Card => image.resize_to_fill(480, 360, FilterType::Triangle),
            Variant::Zoom if image.width().max(image.height()) <= 1600 => image.clone(),
            Variant::Zoom => image.resize(1600, 1600, FilterType::Lanczos3),
        }
    }
}

/// Why an upload was refused. Each says what to do instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("the file is {bytes} bytes; images may be at most {} MB", MAX_UPLOAD_BYTES / (1024 * 1024))]
    TooLarge { bytes: usize },
    #[error("the file is not an image we accept: upload a JPEG, PNG, GIF or WebP picture")]
    NotAnImage,
    #[error(
        "the image is {width} × {height} pixels; at most {MAX_SIDE} pixels a side and {} megapixels are accepted",
        MAX_PIXELS / 1_000_000
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("the image could not be read ({0}); it may be damaged")]
    Damaged(String),
}

/// An upload made into its variants.
pub struct Processed {
    pub width: u32,
    pub height: u32,
    /// WebP bytes per variant, in [`Variant::ALL`] order.
    pub variants: Vec<(Variant, Vec<u8>)>,
}

impl Processed {
    pub fn stored_bytes(&self) -> u64 {
        self.variants.iter().map(|(_, b)| b.len() as u64).sum()
    }
}

/// Decodes and resizes an upload. The format is read from the bytes, never from the name or the
/// declared type; the size is read from the header before anything is decoded, so a small file
/// claiming a huge picture (a decompression bomb) is refused without allocating it.
pub fn process(bytes: &[u8]) -> Result<Processed, ImageError> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ImageError::TooLarge { bytes: bytes.len() });
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(ImageError::NotAnImage);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // A safety net under the explicit size check below, which gives the clearer message.
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| refused(e, None))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(ImageError::Damaged("it has no pixels".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| refused(e, Some((width, height))))?;
    image.apply_orientation(orientation);
    let variants = Variant::ALL
        .into_iter()
        .map(|variant| (variant, encode(&variant.render(&image))))
        .collect();
    Ok(Processed {
        width: image.width(),
        height: image.height(),
        variants,
    })
}

fn refused(error: image::ImageError, size: Option<(u32, u32)>) -> ImageError {
    match (error, size) {
        (image::ImageError::Limits(_), Some((width, height))) => {
            ImageError::TooManyPixels { width, height }
        }
        (image::ImageError::Limits(_), None) => ImageError::TooManyPixels {
            width: MAX_SIDE + 1,
            height: MAX_SIDE + 1,
        },
        (image::ImageError::Unsupported(_), _) => ImageError::NotAnImage,
        (other, _) => ImageError::Damaged(other.to_string()),
    }
}

fn encode(image: &DynamicImage) -> Vec<u8> {
    let rgba = image.to_rgba8();
    webp::Encoder::from_rgba(rgba.as_raw(), rgba.width(), rgba.height())
        .encode(QUALITY)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn an_image_becomes_three_webp_variants_of_the_promised_sizes() {
        let processed = process(&png(2000, 1000)).unwrap();
        assert_eq!((processed.width, processed.height), (2000, 1000));
        let sizes: Vec<_> = processed
            .variants
            .iter()
            .map(|(v, bytes)| {
                assert_eq!(image::guess_format(bytes).unwrap(), ImageFormat::WebP);
                let decoded = image::load_from_memory(bytes).unwrap();
                (v.name(), decoded.width(), decoded.height())
            })
            .collect();
        assert_eq!(
            sizes,
            [("thumb", 160, 160), ("card", 480, 360), ("zoom", 1600, 800)]
        );
    }

    #[test]
    fn small_images_are_not_enlarged() {
        let processed = process(&png(300, 200)).unwrap();
        let zoom = image::load_from_memory(&processed.variants[2].1).unwrap();
        assert_eq!((zoom.width(), zoom.height()), (300, 200));
    }

    #[test]
    fn what_is_not_an_image_is_refused_by_its_bytes() {
        assert_eq!(
            process(b"%PDF-1.7 not a picture").err(),
            Some(ImageError::NotAnImage)
        );
        assert_eq!(process(b"").err(), Some(ImageError::NotAnImage));
        // A PNG signature followed by garbage: recognised, then refused as damaged.
        let mut fake = png(4, 4);
        fake.truncate(40);
        assert!(matches!(process(&fake), Err(ImageError::Damaged(_))));
    }

    #[test]
    fn oversize_files_are_refused_before_decoding() {
        let big = vec![0u8; MAX_UPLOAD_BYTES + 1];
        assert_eq!(
            process(&big).err(),
            Some(ImageError::TooLarge {
                bytes: MAX_UPLOAD_BYTES + 1
            })
        );
    }
}
