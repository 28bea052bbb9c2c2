class DoctorServerTest {}
