// Quantizes the bundled digits CNN (static INT8, calibrated on training rows), compares its
// accuracy with FP32 on the held-out rows, and saves it as a .q8 file.
// go run ./quantize_model [DATA_DIR] in examples/go (DATA_DIR: tests/data, or $Q8_TEST_DATA).
package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"q8.dev/q8"
)

const batch = 150 // 450 held-out rows in 3 batches

func main() {
	dir := dataDir()
	trainX, _, testX, testY := readDigits(filepath.Join(dir, "digits.csv.gz"))

	fp32, err := q8.LoadONNX(filepath.Join(dir, "models", "digits_cnn.onnx"))
	check(err)
	defer fp32.Close()

	// Static quantization: observers see 4 calibration batches of 128 training rows.
	var calibration [][]*q8.Tensor
	for first := 0; first < 512; first += 128 {
		x, err := q8.FromF32(trainX[first*64:(first+128)*64], 128, 1, 8, 8)
		check(err)
		defer x.Close()
		calibration = append(calibration, []*q8.Tensor{x})
	}
	int8, err := fp32.Quantize(q8.DefaultPTQOptions(), calibration)
	check(err)
	defer int8.Close()

	accFP32, accINT8 := accuracy(fp32, testX, testY), accuracy(int8, testX, testY)
	fpBytes, err := fp32.WeightBytes()
	check(err)
	i8Bytes, err := int8.WeightBytes()
	check(err)
	fmt.Printf("digits CNN, %d held-out rows: FP32 %.2f %%, INT8 %.2f %%\n", len(testY), accFP32, accINT8)
	fmt.Printf("weights: FP32 %d bytes, INT8 %d bytes (%.3fx)\n", fpBytes, i8Bytes, float64(i8Bytes)/float64(fpBytes))

	out, err := os.MkdirTemp("", "q8-example-")
	check(err)
	defer os.RemoveAll(out)
	path := filepath.Join(out, "digits_cnn.q8")
	check(int8.Save(path))
	loaded, err := q8.LoadModel(path)
	check(err)
	defer loaded.Close()
	if a := accuracy(loaded, testX, testY); a != accINT8 {
		log.Fatalf("the saved model scores %.2f %%, not %.2f %%", a, accINT8)
	}
	fmt.Println("saved and reloaded digits_cnn.q8: same accuracy")

	if accINT8 < accFP32-1 {
		log.Fatalf("INT8 accuracy more than 1 point below FP32")
	}
}

// accuracy runs m on every row (batches of 150) and returns top-1 accuracy in %.
func accuracy(m *q8.Model, x []float32, y []int) float64 {
	s, err := q8.NewSession(m, batch)
	check(err)
	defer s.Close()
	correct := 0
	for first := 0; first < len(y); first += batch {
		in, err := q8.FromF32(x[first*64:(first+batch)*64], batch, 1, 8, 8)
		check(err)
		check(s.Run(in))
		in.Close()
		out, err := s.Output(0)
		check(err)
		logits, err := out.F32()
		check(err)
		out.Close()
		for i := 0; i < batch; i++ {
			best := 0
			for c := 1; c < 10; c++ {
				if logits[i*10+c] > logits[i*10+best] {
					best = c
				}
			}
			if best == y[first+i] {
				correct++
			}
		}
	}
	return 100 * float64(correct) / float64(len(y))
}

// readDigits splits digits.csv.gz (64 pixels 0-16, then the label) into training rows and the
// held-out rows i % 4 == 0, pixels scaled by 1/16 as the models were trained.
func readDigits(path string) (trainX []float32, trainY []int, testX []float32, testY []int) {
	f, err := os.Open(path)
	check(err)
	defer f.Close()
	z, err := gzip.NewReader(f)
	check(err)
	s := bufio.NewScanner(z)
	for row := 0; s.Scan(); row++ {
		fields := strings.Split(strings.TrimSpace(s.Text()), ",")
		pixels := make([]float32, 64)
		for j := range pixels {
			v, err := strconv.ParseFloat(fields[j], 64)
			check(err)
			pixels[j] = float32(v / 16)
		}
		label, err := strconv.Atoi(fields[64])
		check(err)
		if row%4 == 0 {
			testX, testY = append(testX, pixels...), append(testY, label)
		} else {
			trainX, trainY = append(trainX, pixels...), append(trainY, label)
		}
	}
	check(s.Err())
	return
}

func dataDir() string {
	if len(os.Args) > 1 {
		return os.Args[1]
	}
	if d := os.Getenv("Q8_TEST_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "tests", "data")
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
