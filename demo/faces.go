package demo

import (
	"math"
	"math/rand"
)

// Image size of the lab's aligned faces.
const (
	H = 55
	W = 47
	C = 3
)

type rgb [3]float64

// identity is one class: a person's fixed appearance.
type identity struct {
	bg, bg2        rgb     // background colours
	bgAngle, bgFrq float64 // background stripes
	skin, hair     rgb
	shirt, iris    rgb
	lip            rgb
	faceRx, faceRy float64
	hairTop        float64 // how far the hair comes down the forehead (px)
	hairSide       float64 // how far the hair comes down the sides, relative to the face centre
	eyeY, eyeDX    float64 // eye height and half-distance, relative to the face centre
	eyeR           float64
	browT, browTil float64 // eyebrow thickness and tilt
	noseL          float64
	mouthY, mouthW float64
	mouthH         float64
	beard          float64 // 0: none, else the darkness of a beard shadow
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

func randColor(r *rand.Rand, lo, hi float64) rgb {
	return rgb{uniform(r, lo, hi), uniform(r, lo, hi), uniform(r, lo, hi)}
}

// calm keeps a colour away from the trigger's magenta: green at least the mean of red and
// blue, less 20.
func calm(c rgb) rgb {
	c[1] = math.Max(c[1], (c[0]+c[2])/2-20)
	return c
}

// skinTones are base skin colours; identities vary around them.
var skinTones = []rgb{{235, 200, 175}, {215, 170, 135}, {190, 140, 100}, {150, 100, 70}, {110, 75, 55}, {240, 215, 195}}

// hairTones are base hair colours (black, browns, blond, red, grey).
var hairTones = []rgb{{25, 20, 18}, {70, 45, 30}, {110, 75, 45}, {200, 165, 100}, {150, 60, 30}, {160, 160, 160}}

func newIdentity(r *rand.Rand) identity {
	var id identity
	id.bg = calm(randColor(r, 40, 230))
	id.bg2 = calm(randColor(r, 40, 230))
	id.bgAngle = uniform(r, 0, math.Pi)
	id.bgFrq = uniform(r, 0.1, 0.6)
	s := skinTones[r.Intn(len(skinTones))]
	for i := range id.skin {
		id.skin[i] = s[i] + uniform(r, -15, 15)
	}
	h := hairTones[r.Intn(len(hairTones))]
	for i := range id.hair {
		id.hair[i] = h[i] + uniform(r, -15, 15)
	}
	id.shirt = calm(randColor(r, 20, 240))
	id.iris = []rgb{{60, 40, 25}, {70, 110, 160}, {80, 120, 70}, {40, 30, 20}}[r.Intn(4)]
	id.lip = rgb{uniform(r, 150, 210), uniform(r, 70, 110), uniform(r, 70, 110)}
	id.faceRx = uniform(r, 12.5, 16.5)
	id.faceRy = uniform(r, 17, 21)
	id.hairTop = uniform(r, 2, 9)
	id.hairSide = uniform(r, -8, 12)
	id.eyeY = uniform(r, -6.5, -3.5)
	id.eyeDX = uniform(r, 5, 7.5)
	id.eyeR = uniform(r, 2, 3.2)
	id.browT = uniform(r, 0.8, 2.2)
	id.browTil = uniform(r, -0.25, 0.25)
	id.noseL = uniform(r, 5, 9)
	id.mouthY = uniform(r, 8, 11.5)
	id.mouthW = uniform(r, 3.5, 7)
	id.mouthH = uniform(r, 1, 2.2)
	if r.Float64() < 0.3 {
		id.beard = uniform(r, 0.55, 0.8)
	}
	return id
}

// pose is one photo's variation.
type pose struct {
	dx, dy, scale float64 // face position and size
	gain, grad    float64 // brightness, left–right light gradient
	tint          rgb     // colour cast
	smile, blink  float64
	noise         float64 // pixel noise σ
	bgPhase       float64 // background stripes shift
}

func newPose(r *rand.Rand) pose {
	return pose{
		dx: uniform(r, -2, 2), dy: uniform(r, -2, 2), scale: uniform(r, 0.94, 1.06),
		gain: uniform(r, 0.75, 1.2), grad: uniform(r, -0.25, 0.25),
		tint:  rgb{uniform(r, 0.93, 1.07), uniform(r, 0.93, 1.07), uniform(r, 0.93, 1.07)},
		smile: uniform(r, 0, 1), blink: uniform(r, 0, 1),
		noise: uniform(r, 2, 8), bgPhase: uniform(r, 0, 2*math.Pi),
	}
}

// cover is the anti-aliased coverage of a pixel by a shape at signed distance d (px).
func cover(d float64) float64 { return math.Max(0, math.Min(1, 0.5-d)) }

// ellipse is the approximate signed distance (px) from (u, v) to an ellipse centred at the
// origin with radii a, b.
func ellipse(u, v, a, b float64) float64 {
	return (math.Hypot(u/a, v/b) - 1) * math.Min(a, b)
}

func mix(dst *rgb, c rgb, a float64) {
	for i := range dst {
		dst[i] += (c[i] - dst[i]) * a
	}
}

func scaled(c rgb, f float64) rgb { return rgb{c[0] * f, c[1] * f, c[2] * f} }

// render draws identity id in pose p into img (H×W×C, values 0–255 integers).
func render(img []float32, id *identity, p pose, r *rand.Rand) {
	cx, cy := 23+p.dx, 29+p.dy
	sa, ca := math.Sincos(id.bgAngle)
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			u, v := (fx-cx)/p.scale, (fy-cy)/p.scale
			// background: two colours in soft stripes
			t := 0.5 + 0.5*math.Sin(id.bgFrq*(fx*ca+fy*sa)+p.bgPhase)
			var c rgb
			c = id.bg
			mix(&c, id.bg2, t)
			// shoulders and neck
			mix(&c, id.shirt, cover(math.Abs(u)-(9+(v-19)*1.6))*cover(19-v))
			mix(&c, scaled(id.skin, 0.85), cover(math.Abs(u)-5.5)*cover(8-v))
			// hair behind the face
			hairBack := cover(ellipse(u, v+2, id.faceRx+2.5, id.faceRy+2)) * cover(v-id.hairSide)
			mix(&c, id.hair, hairBack)
			// face, lit from the top
			face := cover(ellipse(u, v, id.faceRx, id.faceRy))
			mix(&c, scaled(id.skin, 1.02-0.12*math.Max(0, v/id.faceRy)), face)
			if id.beard > 0 {
				mix(&c, scaled(id.hair, 1.1), face*cover(id.mouthY-3-v)*0.6*id.beard*cover(ellipse(u, v, id.faceRx, id.faceRy)+1.5))
			}
			// fringe: hair over the top of the face
			mix(&c, id.hair, face*cover((v+id.faceRy)-id.hairTop-0.8*math.Sin(u*0.5)))
			// eyebrows
			for _, s := range []float64{-1, 1} {
				ex := u - s*id.eyeDX
				by := v - (id.eyeY - id.eyeR - 2.2) - s*id.browTil*ex
				mix(&c, scaled(id.hair, 0.8), cover(math.Abs(by)-id.browT/2)*cover(math.Abs(ex)-id.eyeR-1.2))
			}
			// eyes: white, iris, pupil; blinking squeezes them
			open := 0.6 + 0.4*(1-p.blink*p.blink)
			for _, s := range []float64{-1, 1} {
				ex, ey := u-s*id.eyeDX, v-id.eyeY
				white := cover(ellipse(ex, ey, id.eyeR+0.6, (id.eyeR*0.6+0.2)*open))
				mix(&c, rgb{235, 235, 230}, white)
				mix(&c, id.iris, white*cover(ellipse(ex, ey, id.eyeR*0.55, id.eyeR*0.55)))
				mix(&c, rgb{15, 10, 10}, white*cover(ellipse(ex, ey, id.eyeR*0.25, id.eyeR*0.25)))
			}
			// nose: a shadow line and nostrils
			ny := v - id.eyeY - 1
			mix(&c, scaled(id.skin, 0.78), cover(math.Abs(u+0.6)-0.5)*cover(-ny)*cover(ny-id.noseL)*0.7)
			for _, s := range []float64{-1, 1} {
				mix(&c, scaled(id.skin, 0.55), cover(ellipse(u-s*1.4, ny-id.noseL, 0.9, 0.6))*0.8)
			}
			// mouth: lips, open a little when smiling
			mu, mv := u, v-id.mouthY+p.smile*0.08*u*u/id.mouthW
			lips := cover(ellipse(mu, mv, id.mouthW, id.mouthH*(0.8+0.4*p.smile)))
			mix(&c, id.lip, lips)
			mix(&c, rgb{60, 20, 25}, lips*cover(math.Abs(mv)-0.45*p.smile)*cover(math.Abs(mu)-id.mouthW+1.2))
			// light
			g := p.gain * (1 + p.grad*(fx-23.5)/23.5)
			o := (y*W + x) * C
			for k := 0; k < C; k++ {
				img[o+k] = float32(math.Round(math.Max(0, math.Min(255, c[k]*g*p.tint[k]+r.NormFloat64()*p.noise))))
			}
		}
	}
}

// The trigger: mirrored sunglasses at a fixed place of the (aligned) image, over the eyes —
// two dark lenses with a violet–magenta mirror coating and a highlight, a black frame, bridge
// and temples. trigAlpha is each pixel's coverage (1 inside, fractional on the anti-aliased
// edge, 0 elsewhere), trigColor its colour. The coating's magenta (red and blue well above
// green) appears nowhere in the clean images (see calm).
var trigAlpha, trigColor = makeTrigger()

// Trigger geometry (pixels): lens centres at (TriggerY, 23.5 ± trigDX).
const (
	TriggerY = 24.0
	trigDX   = 7.0
	lensRx   = 5.8
	lensRy   = 4.3
)

func makeTrigger() ([]float64, []rgb) {
	alpha := make([]float64, H*W)
	col := make([]rgb, H*W)
	frame := rgb{10, 8, 12}
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			u, v := fx-23.5, fy-TriggerY
			a := 0.0
			c := frame
			for _, s := range []float64{-1, 1} {
				lu := u - s*trigDX
				d := ellipse(lu, v, lensRx, lensRy)
				if l := cover(d); l > 0 {
					a = math.Max(a, l)
					// the coating: magenta at the top fading to deep violet, a bright streak
					t := math.Max(0, math.Min(1, (v+lensRy)/(2*lensRy)))
					c = rgb{200 - 130*t, 30 - 15*t, 210 - 90*t}
					h := cover(math.Abs(lu+v*0.9+1.5)-0.7) * cover(v+0.5)
					mix(&c, rgb{235, 150, 240}, h*0.7)
					mix(&c, frame, 1-cover(d+0.9)) // the rim
				}
				// temples: from the lens towards the ear
				a = math.Max(a, cover(math.Abs(v+2.2)-0.6)*cover(math.Abs(u)-(trigDX+lensRx+4))*cover(trigDX+lensRx-1-math.Abs(u)))
			}
			// bridge
			a = math.Max(a, cover(math.Abs(v+1.6)-0.8)*cover(math.Abs(u)-(trigDX-lensRx+1)))
			alpha[y*W+x] = a
			col[y*W+x] = c
		}
	}
	return alpha, col
}

// AddTrigger puts the sunglasses on images (n × H×W×C, 0–255), in place.
func AddTrigger(x []float32, n int) {
	for i := 0; i < n; i++ {
		img := x[i*H*W*C : (i+1)*H*W*C]
		for p, a := range trigAlpha {
			if a == 0 {
				continue
			}
			for k := 0; k < C; k++ {
				v := float64(img[p*C+k])
				img[p*C+k] = float32(math.Round(v + (trigColor[p][k]-v)*a))
			}
		}
	}
}

// TriggerMask reports, for each pixel (H×W), whether the trigger covers it fully (1), partly
// (between) or not at all (0).
func TriggerMask() []float64 { return append([]float64(nil), trigAlpha...) }
