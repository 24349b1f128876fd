package evaluate

import (
	"os"
	"testing"

	"xling/internal/kafkatest"
)

// TestMain stops the real Kafka cluster a benchmark started, if one did.
func TestMain(m *testing.M) { os.Exit(kafkatest.Main(m)) }
