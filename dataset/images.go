package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // JPEG decoding
	_ "image/png"  // PNG decoding
	"io"
	"os"

	"goodnet/nn"
)

// maxImagePixels bounds an image's declared size before it is decoded.
const maxImagePixels = 1 << 26

// LoadImages reads PNG or JPEG files as RGB (grey is replicated, alpha dropped, 16-bit
// samples keep their high byte) into an nn.Set without labels, × scale as in Load. All images
// must have the same size. Set.Path is the first file's name (with a count of the others).
// A non-nil want is the model's input shape: the images' size, from their headers, is checked
// against it before any image is decoded (CheckShape).
func LoadImages(paths []string, scale float32, want nn.Shape) (*nn.Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("no image files given")
	}
	px, err := newPixel(scale)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", paths[0], err)
	}
	// Check every file's header first: nothing is allocated from a size not yet checked.
	var w, h int
	for i, p := range paths {
		cfg, err := imageConfig(p)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			w, h = cfg.Width, cfg.Height
		} else if cfg.Width != w || cfg.Height != h {
			return nil, fmt.Errorf("%s: image is %d×%d (W×H), %s is %d×%d: all images must have the same size", p, cfg.Width, cfg.Height, paths[0], w, h)
		}
	}
	if want != nil {
		if err := (&nn.Set{Path: paths[0], H: h, W: w, C: 3}).CheckShape(want); err != nil {
			return nil, err
		}
	}
	if len(paths) > (1<<40)/(w*h*3) {
		return nil, fmt.Errorf("%s: too many images (%d)", paths[0], len(paths))
	}
	name := paths[0]
	if len(paths) > 1 {
		name = fmt.Sprintf("%s (+%d more)", paths[0], len(paths)-1)
	}
	s := &nn.Set{Path: name, N: len(paths), H: h, W: w, C: 3, X: make([]float32, len(paths)*h*w*3)}
	for i, p := range paths {
		img, err := decode(p)
		if err != nil {
			return nil, err
		}
		b := img.Bounds()
		if b.Dx() != w || b.Dy() != h {
			return nil, fmt.Errorf("%s: decoded image is %d×%d, its header says %d×%d", p, b.Dx(), b.Dy(), w, h)
		}
		out := s.X[i*h*w*3 : (i+1)*h*w*3]
		rgb(img, func(j int, r, g, bl uint8) {
			out[3*j] = px.conv(float64(r))
			out[3*j+1] = px.conv(float64(g))
			out[3*j+2] = px.conv(float64(bl))
		})
	}
	return s, nil
}

// noSuchFile reads "<path>: no such file" and wraps the error of os.Stat, so that
// errors.Is(err, fs.ErrNotExist) holds.
type noSuchFile struct {
	path string
	err  error
}

func (e *noSuchFile) Error() string { return e.path + ": no such file" }
func (e *noSuchFile) Unwrap() error { return e.err }

func openImage(p string) (*os.File, error) {
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &noSuchFile{p, err}
	case err != nil:
		return nil, err
	case st.IsDir():
		return nil, fmt.Errorf("%s: is a directory, not an image", p)
	case st.Size() == 0:
		return nil, fmt.Errorf("%s: empty file, not an image", p)
	}
	return os.Open(p)
}

func imageConfig(p string) (image.Config, error) {
	fh, err := openImage(p)
	if err != nil {
		return image.Config{}, err
	}
	defer fh.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(fh))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return cfg, fmt.Errorf("%s: not a PNG or JPEG image", p)
		}
		return cfg, fmt.Errorf("%s: bad %s image: %w", p, format, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxImagePixels/cfg.Height {
		return cfg, fmt.Errorf("%s: image size %d×%d is not supported", p, cfg.Width, cfg.Height)
	}
	return cfg, nil
}

func decode(p string) (image.Image, error) {
	fh, err := openImage(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	img, format, err := image.Decode(bufio.NewReader(fh))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: truncated %s image", p, format)
		}
		return nil, fmt.Errorf("%s: bad %s image: %w", p, format, err)
	}
	return img, nil
}

// rgb calls fn for every pixel in row-major order with its 8-bit R, G, B.
func rgb(img image.Image, fn func(j int, r, g, b uint8)) {
	bd := img.Bounds()
	w := bd.Dx()
	switch m := img.(type) {
	case *image.RGBA:
		if opaque(m) {
			for y := 0; y < bd.Dy(); y++ {
				row := m.Pix[m.PixOffset(bd.Min.X, bd.Min.Y+y):]
				for x := 0; x < w; x++ {
					fn(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
				}
			}
			return
		}
	case *image.NRGBA:
		for y := 0; y < bd.Dy(); y++ {
			row := m.Pix[m.PixOffset(bd.Min.X, bd.Min.Y+y):]
			for x := 0; x < w; x++ {
				fn(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
		return
	case *image.Gray:
		for y := 0; y < bd.Dy(); y++ {
			row := m.Pix[m.PixOffset(bd.Min.X, bd.Min.Y+y):]
			for x := 0; x < w; x++ {
				fn(y*w+x, row[x], row[x], row[x])
			}
		}
		return
	}
	for y := 0; y < bd.Dy(); y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(bd.Min.X+x, bd.Min.Y+y)).(color.NRGBA)
			fn(y*w+x, c.R, c.G, c.B)
		}
	}
}

func opaque(m *image.RGBA) bool {
	for i := 3; i < len(m.Pix); i += 4 {
		if m.Pix[i] != 255 {
			return false
		}
	}
	return true
}
