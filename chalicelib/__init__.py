"""CourseHub domain code shipped to Lambda. Every function receives its clients."""
